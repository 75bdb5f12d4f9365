"""Image folders streamed from disk: torchvision ``ImageFolder`` datasets per split, and a split
written out as an image folder."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset, Subset

from .data import IMAGE_MODES, Split, _read_image, split_folders


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
    """Datasets over ``root/train/<class>/*`` (and ``root/val/``, ``root/test/`` when present; the
    split folders of :func:`kdutils.data.split_folders`),
    decoded one image at a time, for :func:`kdutils.train.fit` to stream.

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
    loader = partial(_read_image, image_size=image_size, mode=image_mode)
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


def write_image_folder(split: Split, root: str | Path, classes: list[str]) -> Path:
    """Write ``split``'s images (floats in [0, 1], 1 or 3 channels) as 8-bit PNGs under
    ``root/<class>/<index>.png``; returns ``root``.

    Read back with torchvision's ``ImageFolder``, classes are numbered in the sorted order of
    their names: to keep ``split``'s labels, give names that sort in label order.
    """
    from PIL import Image

    root = Path(root)
    bad = [c for c in classes if not c or "/" in c or "\\" in c or c in (".", "..")]
    if bad or len(set(classes)) != len(classes):
        raise ValueError(
            f"class folder names must be distinct, non-empty and without path separators; "
            f"got {classes}"
        )
    if split.x.ndim != 4 or split.x.shape[1] not in (1, 3):
        raise ValueError(
            f"write_image_folder takes N x C x H x W images with 1 or 3 channels; "
            f"got {tuple(split.x.shape)}"
        )
    pixels = (split.x.clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1)
    for name in classes:
        (root / name).mkdir(parents=True, exist_ok=True)
    for index, (image, label) in enumerate(zip(pixels.numpy(), split.y.tolist())):
        array = image[:, :, 0] if image.shape[2] == 1 else image
        Image.fromarray(array).save(root / classes[label] / f"{index:05d}.png")
    return root
