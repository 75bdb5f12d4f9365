"""Image folders: one rule for which folders are splits and classes, read into memory or streamed from disk."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset, Subset

from .data import FIX_HINT, DataNotFoundError, RawData, check_fractions, held_out

SPLIT_FOLDERS = {
    "train": "train",
    "val": "val",
    "valid": "val",
    "validation": "val",
    "test": "test",
}
IMAGE_MODES = ("RGB", "L")


def hidden(path: Path) -> bool:
    """A name starting with a dot (``.ipynb_checkpoints``, ``._photo.png``): never a class or an image."""
    return path.name.startswith(".")


def image_files(folder: Path) -> list[Path]:
    """The image files of ``folder`` (torchvision's image extensions, hidden files skipped), sorted."""
    from torchvision.datasets.folder import IMG_EXTENSIONS

    return sorted(
        f
        for f in folder.iterdir()
        if f.is_file() and not hidden(f) and f.suffix.lower() in IMG_EXTENSIONS
    )


def class_folders(root: Path) -> list[str]:
    """The classes under ``root``, one rule for both readers: every sub-folder but hidden ones,
    sorted (torchvision's ``ImageFolder`` numbering); a folder without images is an error, since
    it would shift the label of every class after it."""
    classes = sorted(d.name for d in root.iterdir() if d.is_dir() and not hidden(d))
    if not classes:
        raise DataNotFoundError(
            f"image folder {str(root)!r} has no class sub-folders. Fix: {FIX_HINT['imagefolder']}"
        )
    empty = [c for c in classes if not image_files(root / c)]
    if empty:
        raise DataNotFoundError(
            f"class folder(s) {empty} under {str(root)!r} hold no images; a class without "
            "images would shift every label after it: add images, or remove the folder"
        )
    return classes


class ImageReader:
    """Reads an image file as uint8 C x H x W in ``mode``: resized to ``image_size`` x
    ``image_size`` (a warning, once, for an image that is not square: it is squashed), or at its
    own size (``image_size=None``), which every image read must share; 16-bit images are scaled
    to 8 bits. A file that cannot be decoded is an error naming it."""

    def __init__(self, image_size: int | None, mode: str) -> None:
        if mode not in IMAGE_MODES:
            raise ValueError(f"image_mode must be one of {IMAGE_MODES}; got {mode!r}")
        if image_size is not None and not image_size >= 1:
            raise ValueError(
                f"image_size must be None or >= 1 pixel; got {image_size!r}"
            )
        self.image_size, self.mode = image_size, mode
        self.size: tuple[int, int] | None = (
            None  # the first image's, without image_size
        )
        self.warned = False

    def __call__(self, file: str | Path) -> Tensor:
        from PIL import Image

        try:
            with Image.open(file) as image:
                if image.mode in ("I;16", "I;16B", "I;16L", "I"):  # 16- or 32-bit
                    array = np.asarray(image, dtype=np.float64)
                    big = image.mode.startswith("I;16") or array.max() > 255
                    top = 65535.0 if big else 255.0
                    image = Image.fromarray(
                        np.round(array / top * 255).astype(np.uint8)
                    )
                image = image.convert(self.mode)
        except (OSError, SyntaxError, ValueError) as err:
            raise ValueError(
                f"cannot read the image {file} ({err}): it is truncated, corrupt or not an "
                "image; replace it or delete it"
            ) from None
        size, n = image.size, self.image_size
        if n is None:
            self.size = self.size or size
            if size != self.size:
                raise ValueError(
                    f"the image {file} is {size[0]} x {size[1]} px, the first one read "
                    f"{self.size[0]} x {self.size[1]}: give image_size=N to resize every "
                    "image to N x N px"
                )
        else:
            if size[0] != size[1] and not self.warned:
                self.warned = True
                warnings.warn(
                    f"the image {file} is {size[0]} x {size[1]} px, not square: "
                    f"image_size={n} squashes it (and any like it) to {n} x {n} px; crop "
                    "the images to squares first to keep their proportions",
                    UserWarning,
                    stacklevel=2,
                )
            image = image.resize((n, n), Image.BILINEAR)
        array = np.asarray(image, dtype=np.uint8)
        array = array.reshape(array.shape[0], array.shape[1], -1)
        return torch.from_numpy(array.copy()).permute(2, 0, 1)


def _read_class_folders(
    root: Path, read: ImageReader
) -> tuple[Tensor, Tensor, list[str]]:
    """Every image below ``root/<class>/``: images, labels, class names (sorted)."""
    classes = class_folders(root)
    images, labels = [], []
    for label, name in enumerate(classes):
        for file in image_files(root / name):
            images.append(read(file))
            labels.append(label)
    return torch.stack(images), torch.tensor(labels, dtype=torch.int64), classes


def split_folders(path: Path) -> dict[str, Path]:
    """The split folders of an image folder, by split (``train``, ``val``, ``test``): ``train/``,
    ``val/`` (or ``valid/``, ``validation/``) and ``test/`` in any case; ``{}`` for a folder of
    class folders only. A folder that mixes split and other folders, or has no ``train/``, is an
    error: split names are never taken as classes. Hidden folders are skipped."""
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


def load_image_folder(path: Path, image_size: int | None, mode: str = "RGB") -> RawData:
    """A folder of class sub-folders, or of split folders (:func:`split_folders`) each holding
    class sub-folders, read into memory (:class:`ImageReader`, :func:`class_folders`)."""
    read = ImageReader(image_size, mode)
    splits = split_folders(path)
    if not splits:
        x, y, classes = _read_class_folders(path, read)
        return RawData(x, y, classes, f"path: {path}")
    parts = {split: _read_class_folders(f, read) for split, f in splits.items()}
    classes = parts["train"][2]
    for name, (_, _, found) in parts.items():
        if found != classes:
            raise DataNotFoundError(
                f"image folder {str(splits[name])!r} has classes {found}, train/ has {classes}"
            )
    val, test = parts.get("val", (None,) * 2), parts.get("test", (None,) * 2)
    return RawData(
        *parts["train"],
        f"path: {path} ({', '.join(sorted(parts))})",
        *test[:2],
        *val[:2],
    )


@dataclass
class FolderSplits:
    """Train / validation / test datasets of ``(image, label)`` pairs read from one folder (no
    test set only with ``test_fraction=0`` and no ``test/``)."""

    train: Dataset
    val: Dataset
    test: Dataset | None
    classes: list[str]
    root: Path


class _ToFloat:
    """uint8 C x H x W -> float in [0, 1], then ``(x - mean) / std`` when both are given."""

    def __init__(self, mean: list[float] | None, std: list[float] | None) -> None:
        self.mean = None if mean is None else torch.tensor(mean).view(-1, 1, 1)
        self.std = None if std is None else torch.tensor(std).view(-1, 1, 1)

    def __call__(self, image: Tensor) -> Tensor:
        x = image.float() / 255.0
        return x if self.mean is None else (x - self.mean) / self.std


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
    """Datasets over ``root/train/<class>/*`` (and ``root/val/``, ``root/test/`` when present: see
    :func:`split_folders`), decoded one image at a time, for :func:`kdutils.train.fit` to stream.

    Every image is read by :class:`ImageReader`: converted to ``image_mode`` (``"RGB"`` or
    ``"L"``, one channel), resized to ``image_size`` x ``image_size`` (default: kept at its own
    size, the same for every image), then made a float tensor in [0, 1]; with ``mean`` and ``std``
    (one value per channel) it is normalised. ``train_transform`` (e.g. a torchvision v2 random
    flip) runs on each training image after that, a new draw for every image and epoch. Classes
    follow :func:`class_folders`. Without ``test/``, a stratified ``test_fraction`` of ``train/``
    (seeded by ``seed``; 0: no test set) is held out for testing; without ``val/``, a
    ``val_fraction`` of the rest for validation, both without the augmentation: the same images
    as :func:`kdutils.load_splits` holds out of the same folder.
    """
    from torchvision.datasets import ImageFolder
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
    read = ImageReader(image_size, image_mode)
    found = split_folders(root)
    if not found:
        raise FileNotFoundError(
            f"image folder {str(root)!r} has no train/ folder; arrange the images as "
            "train/<class>/*.png, with optional val/ and test/"
        )

    class Folder(ImageFolder):  # kdutils' rule for classes and image files
        def find_classes(self, directory: str) -> tuple[list[str], dict[str, int]]:
            classes = class_folders(Path(directory))
            return classes, {c: i for i, c in enumerate(classes)}

    def folder(name: str, augment: object | None = None) -> ImageFolder:
        transform = _ToFloat(mean, std)
        transform = transform if augment is None else v2.Compose([transform, augment])
        files = {str(f) for c in classes for f in image_files(found[name] / c)}
        return Folder(
            str(found[name]), transform, loader=read, is_valid_file=files.__contains__
        )

    classes = class_folders(found["train"])
    for name in ("val", "test"):
        if name in found and class_folders(found[name]) != classes:
            raise ValueError(
                f"{found[name]} has classes {class_folders(found[name])}, train/ has "
                f"{classes}"
            )
    train = folder("train", train_transform)
    pool, plain = np.arange(len(train)), folder("train")
    labels = np.array(train.targets)
    test = folder("test") if "test" in found else None
    if test is None and test_fraction:
        keep, out = held_out(labels, test_fraction, seed, "test", classes)
        test, pool = Subset(plain, np.sort(out).tolist()), keep
    val = folder("val") if "val" in found else None
    if val is None:
        keep, out = held_out(labels[pool], val_fraction, seed, "val", classes)
        val, pool = Subset(plain, np.sort(pool[out]).tolist()), pool[keep]
    return FolderSplits(Subset(train, np.sort(pool).tolist()), val, test, classes, root)
