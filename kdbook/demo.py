"""The "distil your own model" page's demo: a Fashion-MNIST image folder, and the book's convnet
teacher handed over as a model file, as a reader would hand over theirs."""

from __future__ import annotations

import tempfile
from pathlib import Path

import torch

from kdutils.data import Split, stratified_subset

from .fashion import load_fashion, student_train_split
from .profiles import Profile
from .teachers import get_teacher


def fashion_folder_and_teacher(profile: Profile) -> tuple[str, str, str]:
    """Write ``train/`` and ``test/`` class folders of Fashion-MNIST PNGs (chapter 4's students'
    images, and the official test set: whole but under smoke, where a stratified share) and the
    ``fashion-cnn`` teacher saved with ``torch.save(model)``, in a new temporary folder:
    ``(folder, teacher file, a note saying where the images come from)``.

    The whole test set, not a share: with a thousand test images, a one-point difference between
    two students is within the test-set noise of a claim's interval."""
    splits, note = load_fashion(profile)
    per_class = profile.choose(smoke=10, cpu=100, gpu=100)
    test_per_class = profile.choose(smoke=10, cpu=None, gpu=None)
    root = Path(tempfile.mkdtemp(prefix="kdutils-demo-folder-"))
    # "00-t-shirt-top", ...: folder names that sort in label order, as the teacher numbers them
    classes = [
        f"{i:02d}-{name.lower().replace('/', '-')}"
        for i, name in enumerate(splits.classes)
    ]
    write_image_folder(student_train_split(splits, per_class), root / "train", classes)
    test = (
        splits.test
        if test_per_class is None
        else stratified_subset(
            splits.test, test_per_class * len(splits.classes) / len(splits.test)
        )
    )
    write_image_folder(test, root / "test", classes)
    teacher, _, _ = get_teacher("fashion-cnn", profile, splits, progress=False)
    path = root / "teacher.pt"
    torch.save(teacher.cpu(), path)
    return str(root), str(path), f"a demo folder written from {note}"


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
