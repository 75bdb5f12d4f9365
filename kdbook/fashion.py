"""Fashion-MNIST setup shared by the ViT -> MobileNetV2 and DeiT chapters: data with its fallback, the students' split."""

from __future__ import annotations

from typing import Any

import torch

from kdutils.data import (
    DataNotFoundError,
    Split,
    Splits,
    load_splits,
    stratified_subset,
)

from .profiles import Profile


def load_fashion(profile: Profile) -> tuple[Splits, str]:
    """Fashion-MNIST splits for ``profile`` (teacher-sized training set), or MNIST 5k when it is nowhere to be found.

    Returns the splits and a note for the reader saying which data set is used and why.
    """
    per_class = profile.choose(smoke=40, cpu=2100, gpu=None)
    try:
        splits = load_splits(
            "fashion-mnist",
            per_class_limit=per_class,
            download=profile.allow_download,
            val_fraction=profile.choose(smoke=0.1, cpu=1 / 21, gpu=0.1),
        )
        return splits, f"Fashion-MNIST from {splits.source}"
    except DataNotFoundError as err:
        splits = load_splits(
            "mnist", per_class_limit=per_class, download=profile.allow_download
        )
        return (
            splits,
            f"FALLBACK: Fashion-MNIST was not found, so this run uses MNIST ({splits.source}).\n{err}",
        )


def student_training(
    profile: Profile, device: torch.device, **recipe: Any
) -> dict[str, Any]:
    """Keyword arguments of :func:`kdutils.train.fit` for the chapters' students: AdamW on a cosine
    schedule, learning rate 2e-3, batch 128, on the profile's device and precision; ``recipe`` adds
    or overrides (``epochs``, ``weight_decay``, ``channels_last``, ...)."""
    return {
        "lr": 2e-3,
        "optimizer": "adamw",
        "schedule": "cosine",
        "batch_size": 128,
        "device": device,
        "amp": profile.amp,
        **recipe,
    }


def student_train_split(profile: Profile, splits: Splits, seed: int = 0) -> Split:
    """The students' smaller training set: a stratified share of the teacher's training images."""
    return stratified_subset(
        splits.train, profile.choose(smoke=0.5, cpu=0.25, gpu=0.25), seed=seed
    )
