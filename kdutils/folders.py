"""Image folders: one rule for which folders are splits and classes, read into memory or streamed from disk."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset, Subset

from .data import FIX_HINT, DataNotFoundError, RawData, check_fractions, held_out

SPLIT_FOLDERS = {"train": "train", "val": "val", "valid": "val", "validation": "val"}
SPLIT_FOLDERS["test"] = "test"
IMAGE_MODES = ("RGB", "L")


def hidden(path: Path) -> bool:
    """A name starting with a dot (``.ipynb_checkpoints``, ``._photo.png``): never a class or an image."""
    return path.name.startswith(".")


def image_files(folder: Path) -> list[Path]:
    """The image files of ``folder`` (torchvision's image extensions, hidden files skipped), sorted."""
    from torchvision.datasets.folder import IMG_EXTENSIONS

    is_image = lambda f: f.suffix.lower() in IMG_EXTENSIONS and not hidden(f)  # noqa: E731
    return sorted(f for f in folder.iterdir() if f.is_file() and is_image(f))


def class_folders(root: Path) -> list[str]:
    """The classes under ``root``, one rule for both readers: every sub-folder but hidden ones,
    sorted (torchvision's ``ImageFolder`` numbering); one without images is an error, since it would
    shift the label of every class after it."""
    classes = sorted(d.name for d in root.iterdir() if d.is_dir() and not hidden(d))
    if not classes:
        raise DataNotFoundError(
            f"image folder {str(root)!r} has no class sub-folders. Fix: {FIX_HINT['imagefolder']}"
        )
    if empty := [c for c in classes if not image_files(root / c)]:
        raise DataNotFoundError(
            f"class folder(s) {empty} under {str(root)!r} hold no images; a class without "
            "images would shift every label after it: add images, or remove the folder"
        )
    return classes


class ImageReader:
    """An image file as uint8 C x H x W in ``mode`` (16-bit images scaled to 8 bits), resized to
    ``image_size`` square (a warning, once, when that squashes an image) or (``None``) at its own
    size, which every image read must share; a file it cannot decode is named."""

    def __init__(self, image_size: int | None, mode: str) -> None:
        if mode not in IMAGE_MODES:
            raise ValueError(f"image_mode must be one of {IMAGE_MODES}; got {mode!r}")
        if image_size is not None and not image_size >= 1:
            raise ValueError(
                f"image_size must be None or >= 1 pixel; got {image_size!r}"
            )
        self.image_size, self.mode = image_size, mode
        self.size, self.warned = None, False  # the first image's size; squashing said

    def __call__(self, file: str | Path) -> Tensor:
        from PIL import Image

        try:
            with Image.open(file) as image:
                if image.mode in ("I;16", "I;16B", "I;16L", "I"):  # 16- or 32-bit
                    array = np.asarray(image, dtype=np.float64)
                    big = image.mode.startswith("I;16") or array.max() > 255
                    array = np.round(array / (65535.0 if big else 255.0) * 255)
                    image = Image.fromarray(array.astype(np.uint8))
                image = image.convert(self.mode)
        except (OSError, SyntaxError, ValueError) as err:
            raise ValueError(
                f"cannot read the image {file} ({err}): it is truncated, corrupt or not an "
                "image; replace it or delete it"
            ) from None
        (w, h), n = image.size, self.image_size
        self.size = self.size or image.size
        if n is None and image.size != self.size:
            raise ValueError(
                f"the image {file} is {w} x {h} px, the first one read {self.size[0]} x "
                f"{self.size[1]}: give image_size=N to resize every image to N x N px"
            )
        if n is not None and w != h and not self.warned:
            self.warned = True
            warnings.warn(
                f"the image {file} is {w} x {h} px, not square: image_size={n} squashes it "
                f"(and any like it) to {n} x {n} px; crop the images to squares first to "
                "keep their proportions",
                stacklevel=2,
            )
        image = image if n is None else image.resize((n, n), Image.BILINEAR)
        array = np.array(image, dtype=np.uint8)  # a copy torch may own
        return torch.from_numpy(array.reshape(*array.shape[:2], -1)).movedim(2, 0)


class FolderDataset(Dataset):
    """``(image, label)`` pairs of the images of ``root/<class>/`` (:func:`image_files`), each read
    by ``loader`` and then ``transform`` when asked for; ``samples`` lists ``(file, label)``."""

    def __init__(self, root: Path, classes: list[str], loader, transform=None) -> None:
        self.root, self.classes, self.transform = root, classes, transform
        self.loader = loader
        files = [(f, i) for i, c in enumerate(classes) for f in image_files(root / c)]
        self.samples = [(str(f), i) for f, i in files]
        self.targets = [i for _, i in files]

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[Tensor, int]:
        image = self.loader(self.samples[index][0])
        return self.transform(image) if self.transform else image, self.targets[index]


def split_folders(path: Path) -> dict[str, Path]:
    """The split folders of an image folder, by split: ``train/``, ``val/`` (or ``valid/``,
    ``validation/``) and ``test/`` in any case; ``{}`` for a folder of class folders only. A folder
    that mixes split and other folders, or has no ``train/``, is an error: split names are never
    taken as classes. Hidden folders are skipped."""
    folders = sorted(d.name for d in path.iterdir() if d.is_dir() and not hidden(d))
    splits = [f for f in folders if f.lower() in SPLIT_FOLDERS]
    if not splits:
        return {}
    if len(splits) != len(folders) or "train" not in [f.lower() for f in splits]:
        raise DataNotFoundError(
            f"image folder {str(path)!r} mixes split folders {splits} with other folders "
            f"{sorted(set(folders) - set(splits))}, or has no train/: use either class "
            "folders, or train/ (and optional val/, test/) each holding class folders"
        )
    return {SPLIT_FOLDERS[f.lower()]: path / f for f in splits}


def _same_classes(found: dict[str, Path]) -> list[str]:
    """The classes of ``train/``; an error naming a split folder with other classes."""
    classes = class_folders(found["train"])
    for folder in found.values():
        if class_folders(folder) != classes:
            raise DataNotFoundError(
                f"image folder {str(folder)!r} has classes {class_folders(folder)}, "
                f"train/ has {classes}"
            )
    return classes


def load_image_folder(path: Path, image_size: int | None, mode: str = "RGB") -> RawData:
    """A folder of class sub-folders, or of split folders (:func:`split_folders`) each holding class
    sub-folders, read into memory by one :class:`ImageReader`."""
    read, found = ImageReader(image_size, mode), split_folders(path) or {"train": path}
    classes, parts = _same_classes(found), {"test": (None,) * 2, "val": (None,) * 2}
    for split, folder in found.items():
        data = FolderDataset(folder, classes, read)
        images = torch.stack([read(file) for file, _ in data.samples])
        parts[split] = images, torch.tensor(data.targets)
    where = "" if found["train"] == path else f" ({', '.join(sorted(found))})"
    source = f"path: {path}{where}"
    return RawData(*parts["train"], classes, source, *parts["test"], *parts["val"])


@dataclass
class FolderSplits:
    """Train / validation / test datasets of ``(image, label)`` pairs read from one folder (no test
    set only with ``test_fraction=0`` and no ``test/``)."""

    train: Dataset
    val: Dataset
    test: Dataset | None
    classes: list[str]
    root: Path


def _to_float(image: Tensor, mean: Tensor | None, std: Tensor | None) -> Tensor:
    """uint8 C x H x W -> float in [0, 1], then ``(x - mean) / std`` when both are given."""
    x = image.float() / 255.0
    return x if mean is None else (x - mean) / std


def image_folder_datasets(
    root: str | Path,
    *,
    image_size: int | None = None,
    image_mode: str = "RGB",
    mean: list[float] | None = None,
    std: list[float] | None = None,
    train_transform: object | None = None,
    val_fraction: float = 0.1,
    test_fraction: float = 0.2,
    seed: int = 0,
) -> FolderSplits:
    """Datasets over ``root/train/<class>/*`` (and ``val/``, ``test/`` when present:
    :func:`split_folders`; classes: :func:`class_folders`), read one image at a time, for
    :func:`kdutils.train.fit` to stream.

    Every image is read by :class:`ImageReader` (``image_size``, ``image_mode``: ``"RGB"`` or
    ``"L"``), made a float tensor in [0, 1], and normalised when ``mean`` and ``std`` (per
    channel) are given; ``train_transform`` (e.g. a torchvision v2 random flip) then runs on
    each training image, a new draw every time. Without ``test/``, a stratified
    ``test_fraction`` of ``train/`` (seeded; 0: no test set) is held out, and without ``val/``
    a ``val_fraction`` of the rest, both unaugmented: the images :func:`kdutils.data.load_splits`
    holds out of the same folder.
    """
    from torchvision.transforms import v2

    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(
            f"image folder {str(root)!r} does not exist; give a folder holding train/<class>/ "
            "(and optional val/, test/)"
        )
    if (mean is None) != (std is None):
        raise ValueError("give both mean and std (one value per channel), or neither")
    check_fractions(val_fraction, test_fraction)
    read, found = ImageReader(image_size, image_mode), split_folders(root)
    if not found:
        raise FileNotFoundError(
            f"image folder {str(root)!r} has no train/ folder; arrange the images as "
            "train/<class>/*.png, with optional val/ and test/"
        )
    classes = _same_classes(found)

    stats = [None if v is None else torch.tensor(v).view(-1, 1, 1) for v in (mean, std)]

    def folder(name: str, augment: object | None = None) -> FolderDataset:
        to_float = partial(_to_float, mean=stats[0], std=stats[1])
        transform = to_float if augment is None else v2.Compose([to_float, augment])
        return FolderDataset(found[name], classes, read, transform)

    train, plain = folder("train", train_transform), folder("train")
    pool, labels = np.arange(len(train)), np.array(train.targets)
    test = folder("test") if "test" in found else None
    if test is None and test_fraction:
        keep, out = held_out(labels, test_fraction, seed, "test", classes)
        test, pool = Subset(plain, np.sort(out).tolist()), keep
    val = folder("val") if "val" in found else None
    if val is None:
        keep, out = held_out(labels[pool], val_fraction, seed, "val", classes)
        val, pool = Subset(plain, np.sort(pool[out]).tolist()), pool[keep]
    return FolderSplits(Subset(train, np.sort(pool).tolist()), val, test, classes, root)
