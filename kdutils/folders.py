"""Image folders: one rule for which folders are splits and classes, read into memory or streamed from disk."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset, Subset

from .data import FIX_HINT, DataNotFoundError, RawData

SPLIT_FOLDERS = {
    "train": "train",
    "val": "val",
    "valid": "val",
    "validation": "val",
    "test": "test",
}
IMAGE_MODES = ("RGB", "L")


def read_image(file: Path, image_size: int, mode: str) -> Tensor:
    """One image as uint8 C x H x W in ``mode``, resized; 16-bit images scaled to 8 bits."""
    from PIL import Image

    with Image.open(file) as image:
        if image.mode in ("I;16", "I;16B", "I;16L", "I"):  # 16-bit (or 32-bit) integers
            array = np.asarray(image, dtype=np.float64)
            top = (
                65535.0 if image.mode.startswith("I;16") or array.max() > 255 else 255.0
            )
            image = Image.fromarray(np.round(array / top * 255.0).astype(np.uint8))
        image = image.convert(mode).resize((image_size, image_size), Image.BILINEAR)
        array = np.asarray(image, dtype=np.uint8)
    return torch.from_numpy(array.reshape(image_size, image_size, -1).copy()).permute(
        2, 0, 1
    )


def _read_class_folders(
    root: Path, image_size: int, mode: str
) -> tuple[Tensor, Tensor, list[str]]:
    """Every image below ``root/<class>/``: images, labels, class names (sorted)."""
    from torchvision.datasets.folder import IMG_EXTENSIONS

    classes = sorted(d.name for d in root.iterdir() if d.is_dir())
    if not classes:
        raise DataNotFoundError(
            f"image folder {str(root)!r} has no class sub-folders. Fix: {FIX_HINT['imagefolder']}"
        )
    images, labels = [], []
    for label, name in enumerate(classes):
        for file in sorted((root / name).iterdir()):
            if file.suffix.lower() in IMG_EXTENSIONS:
                images.append(read_image(file, image_size, mode))
                labels.append(label)
    if not images:
        raise DataNotFoundError(f"image folder {str(root)!r} holds no images")
    return torch.stack(images), torch.tensor(labels, dtype=torch.int64), classes


def split_folders(path: Path) -> dict[str, Path]:
    """The split folders of an image folder, by split (``train``, ``val``, ``test``): ``train/``,
    ``val/`` (or ``valid/``, ``validation/``) and ``test/`` in any case; ``{}`` for a folder of
    class folders only. A folder that mixes split and other folders, or has no ``train/``, is an
    error: split names are never taken as classes."""
    folders = sorted(d.name for d in path.iterdir() if d.is_dir())
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


def load_image_folder(path: Path, image_size: int, mode: str = "RGB") -> RawData:
    """A folder of class sub-folders, or of split folders (:func:`split_folders`) each holding
    class sub-folders: then ``test/`` becomes the official test split and ``val/`` joins the pool
    that the validation split is drawn from."""
    if mode not in IMAGE_MODES:
        raise ValueError(f"image mode must be one of {IMAGE_MODES}; got {mode!r}")
    splits = split_folders(path)
    if not splits:
        x, y, classes = _read_class_folders(path, image_size, mode)
        return RawData(x, y, classes, f"path: {path}")
    parts = {
        split: _read_class_folders(folder, image_size, mode)
        for split, folder in splits.items()
    }
    classes = parts["train"][2]
    for name, (_, _, found) in parts.items():
        if found != classes:
            raise DataNotFoundError(
                f"image folder {str(path / name)!r} has classes {found}, train/ has {classes}"
            )
    pool = [parts[k] for k in ("train", "val") if k in parts]
    x, y = torch.cat([p[0] for p in pool]), torch.cat([p[1] for p in pool])
    test = parts.get("test")
    return RawData(
        x,
        y,
        classes,
        f"path: {path} ({', '.join(sorted(parts))})",
        test_images=test[0] if test else None,
        test_labels=test[1] if test else None,
    )


@dataclass
class FolderSplits:
    """Train / validation / (test) datasets of ``(image, label)`` pairs read from one folder."""

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
    image_size: int = 64,
    image_mode: str = "RGB",
    mean: list[float] | None = None,
    std: list[float] | None = None,
    train_transform: object | None = None,
    val_fraction: float = 0.1,
    seed: int = 0,
) -> FolderSplits:
    """Datasets over ``root/train/<class>/*`` (and ``root/val/``, ``root/test/`` when present: see
    :func:`split_folders`), decoded one image at a time, for :func:`kdutils.train.fit` to stream.

    Every image is converted to ``image_mode`` (``"RGB"`` or ``"L"``, one channel), resized to
    ``image_size`` x ``image_size`` (default 64), 16-bit images scaled to 8 bits, then made a
    float tensor in [0, 1]; with ``mean`` and ``std`` (one value per channel; default: none) it is
    normalised. ``train_transform`` (e.g. a torchvision v2 random flip) runs on each training
    image after that, a new draw for every image and epoch. Without ``val/``, a stratified
    ``val_fraction`` of ``train/`` (seeded) is held out for validation, without the augmentation.
    """
    from torchvision.datasets import ImageFolder
    from torchvision.transforms import v2

    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(
            f"image folder {str(root)!r} does not exist; give a folder holding train/<class>/ "
            "(and optional val/, test/)"
        )
    if image_mode not in IMAGE_MODES:
        raise ValueError(f"image_mode must be one of {IMAGE_MODES}; got {image_mode!r}")
    if image_size < 8:
        raise ValueError(f"image_size must be >= 8 pixels; got {image_size!r}")
    if (mean is None) != (std is None):
        raise ValueError("give both mean and std (one value per channel), or neither")
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in (0, 1); got {val_fraction!r}")
    found = split_folders(root)
    if not found:
        raise FileNotFoundError(
            f"image folder {str(root)!r} has no train/ folder; arrange the images as "
            "train/<class>/*.png, with optional val/ and test/"
        )
    loader = partial(read_image, image_size=image_size, mode=image_mode)
    plain = _ToFloat(mean, std)

    def folder(name: str, augment: object | None = None) -> ImageFolder:
        transform = plain if augment is None else v2.Compose([plain, augment])
        return ImageFolder(str(found[name]), transform=transform, loader=loader)

    train = folder("train", train_transform)
    classes = train.classes
    for name in ("val", "test"):
        if name in found and folder(name).classes != classes:
            raise ValueError(
                f"{found[name]} has classes {folder(name).classes}, train/ has {classes}"
            )
    if "val" in found:
        val: Dataset = folder("val")
    else:
        from sklearn.model_selection import train_test_split

        labels = np.array(train.targets)
        keep, held_out = train_test_split(
            np.arange(len(labels)),
            test_size=val_fraction,
            random_state=seed,
            stratify=labels,
        )
        val = Subset(folder("train"), np.sort(held_out).tolist())
        train = Subset(train, np.sort(keep).tolist())
    test = folder("test") if "test" in found else None
    return FolderSplits(train, val, test, classes, root)
