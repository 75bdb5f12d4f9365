"""Hinton's MNIST setup, shared by the teacher/student and temperature chapters: data, students, sweep jobs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from kdutils.data import Split, Splits
from kdutils.evaluate import classification_metrics
from kdutils.models import mlp
from kdutils.train import (
    History,
    Objective,
    cross_entropy_objective,
    fit,
    seed_everything,
)

from .profiles import Profile

BLOG_STUDENT = (20, 20)
HINTON_STUDENT = (800, 800)
STUDENT_RECIPE = {"lr": 1e-3, "batch_size": 128, "schedule": "cosine"}  # Adam
STUDENT_SCORING = "test accuracy at the last epoch of a fixed cosine schedule (Adam, lr 1e-3, batch 128)"


def dataset_for(profile: Profile) -> str:
    """MNIST everywhere but smoke, which uses scikit-learn's 8x8 digits (fastest real digits)."""
    return profile.choose(smoke="digits", cpu="mnist", gpu="mnist")


def train_student(
    hidden: Sequence[int],
    splits: Splits,
    seed: int,
    *,
    epochs: int,
    train: Split | None = None,
    progress: bool = False,
    desc: str = "student",
    **fit_kwargs: Any,
) -> tuple[nn.Module, History, dict]:
    """Build a ReLU MLP student from ``seed``, fit it (on ``train`` or the full training split), test it once.

    The recipe is :data:`STUDENT_RECIPE`, scored at the last epoch (:data:`STUDENT_SCORING`);
    ``fit_kwargs`` go to :func:`kdutils.train.fit` (``objective``, ``teacher``, ``device``, ``amp``).
    """
    seed_everything(seed)
    model = mlp(splits.train.x[0].numel(), hidden, len(splits.classes))
    data = train or splits.train
    history = fit(
        model,
        data,
        splits.val,
        epochs=epochs,
        seed=seed,
        progress=progress,
        desc=desc,
        **STUDENT_RECIPE,
        **fit_kwargs,
    )
    return model, history, classification_metrics(model, splits.test.x, splits.test.y)


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


def objective_for(spec: dict) -> Objective:
    """The training objective a job asks for: ``alone``, ``kd`` (alpha, T, t_squared) or ``logits`` (alpha)."""
    from kdutils.losses import kd_objective, logit_matching_objective

    kind = spec["kind"]
    if kind == "alone":
        return cross_entropy_objective
    if kind == "kd":
        return kd_objective(spec["alpha"], spec["T"], spec.get("t_squared", True))
    if kind == "logits":
        return logit_matching_objective(spec["alpha"])
    raise ValueError(
        f"unknown objective kind {kind!r}; choose 'alone', 'kd' or 'logits'"
    )


def student_job(job: dict, shared: dict) -> dict:
    """One sweep job: train a student described by ``job`` on ``shared["splits"]``; return its test metrics.

    ``job``: ``hidden``, ``seed``, ``epochs`` and ``objective`` (see :func:`objective_for`);
    ``shared``: ``splits``, for distillation ``cache`` (a :class:`TeacherCache` on the training images),
    and optionally ``device`` and ``amp`` (default: the CPU, full precision).
    """
    spec = job["objective"]
    teacher = None if spec["kind"] == "alone" else shared["cache"]
    _, history, metrics = train_student(
        job["hidden"],
        shared["splits"],
        job["seed"],
        objective=objective_for(spec),
        teacher=teacher,
        epochs=job["epochs"],
        device=shared.get("device", "cpu"),
        amp=shared.get("amp", False),
    )
    return {**job, **metrics, "val_accuracy": history.kept_val_accuracy}
