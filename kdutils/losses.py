"""Distillation losses and the objectives fit trains with: soft KD, hard-label KD, DeiT's loss, logit matching.

Conventions (used by every chapter):

* ``soft_kd_loss = KL(softmax(t/T) || softmax(s/T)) * T^2``, averaged over the batch (``batchmean``),
  computed from log-probabilities on both sides; every other loss here that needs this KL calls it.
* ``distillation_loss = (1 - alpha) * CE(s, y) + alpha * soft_kd_loss``: ``alpha`` weighs the teacher.
* An *objective* is what :func:`kdutils.train.fit` minimises: ``objective(student_logits, labels,
  teacher_logits or None) -> scalar loss``, differentiated by autograd.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

Objective = Callable[[Tensor, Tensor, Tensor | None], Tensor]


def _as_number(value: object) -> float | None:
    """``value`` as a Python float: numbers, numpy scalars and 0-d tensors; None for anything else."""
    if isinstance(value, torch.Tensor) and value.ndim == 0 and not value.is_complex():
        value = value.item()
    real = isinstance(value, numbers.Real) and not isinstance(value, bool)
    return float(value) if real else None


def check_temperature(T: float) -> float:
    """``T`` as a float; a ValueError unless it is a finite number > 0."""
    value = _as_number(T)
    if value is None or not math.isfinite(value) or value <= 0:
        raise ValueError(f"temperature T must be a finite number > 0; got {T!r}")
    return value


def check_alpha(alpha: float) -> float:
    """``alpha`` as a float; a ValueError unless 0 <= alpha <= 1."""
    value = _as_number(alpha)
    if value is None or not 0.0 <= value <= 1.0:
        raise ValueError(f"alpha must be a number in [0, 1]; got {alpha!r}")
    return value


def check_logits(student: Tensor, teacher: Tensor) -> None:
    """Raise a ValueError unless both are (batch, classes) logits of the same shape."""
    if student.ndim != 2 or student.shape != teacher.shape:
        raise ValueError(
            f"student and teacher logits must both be (batch, classes) with the same shape; "
            f"got student {tuple(student.shape)} and teacher {tuple(teacher.shape)}"
        )


def check_targets(logits: Tensor, targets: Tensor) -> None:
    """Raise a ValueError unless targets are (batch,) class indices matching the logits."""
    if targets.ndim != 1 or targets.shape[0] != logits.shape[0]:
        n, got = logits.shape[0], tuple(targets.shape)
        raise ValueError(f"targets must be class indices of shape ({n},); got {got}")


def soft_kd_loss(student_logits: Tensor, teacher_logits: Tensor, T: float) -> Tensor:
    """Hinton's soft-target loss: ``KL(softmax(t/T) || softmax(s/T)) * T^2``, batch mean."""
    T = check_temperature(T)
    check_logits(student_logits, teacher_logits)
    log_p_student = F.log_softmax(student_logits / T, dim=1)
    log_p_teacher = F.log_softmax(teacher_logits / T, dim=1)
    kl = F.kl_div(log_p_student, log_p_teacher, reduction="batchmean", log_target=True)
    return kl * (T * T)


def soft_target_cross_entropy(
    student_logits: Tensor, teacher_logits: Tensor, T: float
) -> Tensor:
    """Hinton's formulation, ``-sum softmax(t/T) log softmax(s/T) * T^2`` (batch mean):
    :func:`soft_kd_loss` plus the teacher's entropy times ``T^2``, a constant for the student, so
    the same gradient."""
    T = check_temperature(T)
    check_logits(student_logits, teacher_logits)
    p_teacher = F.softmax(teacher_logits / T, dim=1)
    ce = -(p_teacher * F.log_softmax(student_logits / T, dim=1)).sum(dim=1)
    return ce.mean() * (T * T)


def hard_distillation_loss(student_logits: Tensor, teacher_logits: Tensor) -> Tensor:
    """DeiT's hard-label distillation: cross-entropy against the teacher's argmax decision."""
    check_logits(student_logits, teacher_logits)
    return F.cross_entropy(student_logits, teacher_logits.argmax(dim=1))


def logit_matching_loss(student_logits: Tensor, teacher_logits: Tensor) -> Tensor:
    """``0.5 * mean((s - t)^2)`` over logits centred per image: the limit of :func:`soft_kd_loss` as
    T grows.

    Hinton et al.'s limit (2015, sec. 2.1) holds for logits "zero-meaned separately for each
    transfer case"; softmax ignores a constant per image, so centring both sides changes nothing a
    softmax sees and removes a difference the soft loss never penalises. The gradient, ``(s_c - t_c)
    / (batch * classes)``, is what ``soft_kd_loss``'s gradient tends to."""
    check_logits(student_logits, teacher_logits)
    return 0.5 * F.mse_loss(
        student_logits - student_logits.mean(dim=1, keepdim=True),
        teacher_logits - teacher_logits.mean(dim=1, keepdim=True),
    )


def distillation_loss(
    student_logits: Tensor,
    targets: Tensor,
    teacher_logits: Tensor,
    alpha: float,
    T: float,
) -> Tensor:
    """The combined objective ``(1 - alpha) * CE(s, y) + alpha * soft_kd_loss(s, t, T)``."""
    alpha = check_alpha(alpha)
    check_targets(student_logits, targets)
    hard = F.cross_entropy(student_logits, targets)
    return (1.0 - alpha) * hard + alpha * soft_kd_loss(
        student_logits, teacher_logits, T
    )


DeiTKind = Literal["none", "soft", "hard"]


def deit_loss(
    class_logits: Tensor,
    dist_logits: Tensor,
    targets: Tensor,
    teacher_logits: Tensor,
    kind: DeiTKind,
    alpha: float = 0.5,
    tau: float = 1.0,
    soft_reduction: str = "numel",
) -> Tensor:
    """DeiT's objective as in its ``losses.py``: ``(1 - alpha) * CE(class head, y) + alpha *
    distill``.

    ``soft``: :func:`soft_kd_loss` at temperature ``tau`` on the distillation head, divided by the
    number of classes under ``soft_reduction="numel"``: DeiT's code divides the summed KL by batch x
    classes, C times less than ``"batchmean"`` (Hinton et al.). ``hard``: CE of the distillation
    head against the teacher's argmax. ``none``: CE of the class head only. With no distillation
    token, pass the same logits twice."""
    if kind not in ("none", "soft", "hard"):
        raise ValueError(
            f"DeiT distillation kind must be 'none', 'soft' or 'hard'; got {kind!r}"
        )
    if soft_reduction not in ("numel", "batchmean"):
        raise ValueError(
            f"soft_reduction must be 'numel' or 'batchmean'; got {soft_reduction!r}"
        )
    check_targets(class_logits, targets)
    base = F.cross_entropy(class_logits, targets)
    if kind == "none":
        return base
    alpha = check_alpha(alpha)
    if kind == "soft":
        distill = soft_kd_loss(dist_logits, teacher_logits, tau)
        if soft_reduction == "numel":
            distill = distill / dist_logits.shape[1]
    else:
        distill = hard_distillation_loss(dist_logits, teacher_logits)
    return (1.0 - alpha) * base + alpha * distill


def entropy(logits: Tensor, T: float = 1.0) -> Tensor:
    """Entropy in nats of ``softmax(logits / T)``, one value per row."""
    T = check_temperature(T)
    log_p = F.log_softmax(logits / T, dim=1)
    return -(log_p.exp() * log_p).sum(dim=1)


def require_finite(loss: float, where: str) -> float:
    """Return ``loss`` (a Python number), or raise FloatingPointError naming ``where`` if it is NaN or infinite."""
    if math.isfinite(loss):
        return loss
    raise FloatingPointError(
        f"non-finite loss ({loss!r}) at {where}; lower the learning rate, check the "
        "inputs for NaN, or check T and alpha"
    )


def cross_entropy_objective(
    student_logits: Tensor, targets: Tensor, teacher_logits: Tensor | None
) -> Tensor:
    """Plain supervised training: cross-entropy with the labels (ignores the teacher)."""
    return F.cross_entropy(student_logits, targets)


def _needs_teacher(teacher_logits: Tensor | None, name: str) -> Tensor:
    if teacher_logits is not None:
        return teacher_logits
    raise ValueError(
        f"{name} needs teacher logits: pass teacher= (a model or a TeacherCache) to fit"
    )


@dataclass(frozen=True)
class KDObjective:
    """:func:`distillation_loss` as a fit objective, with its ``alpha`` and ``T``; ``t_squared=False``
    drops the soft term's ``T^2`` factor: an ablation (chapter 3), not a recommendation."""

    alpha: float
    T: float
    t_squared: bool = True

    def __post_init__(self) -> None:
        check_alpha(self.alpha)
        check_temperature(self.T)

    def __call__(
        self, student_logits: Tensor, labels: Tensor, teacher_logits: Tensor | None
    ) -> Tensor:
        teacher_logits = _needs_teacher(teacher_logits, "kd_objective")
        check_targets(student_logits, labels)
        hard = F.cross_entropy(student_logits, labels)
        soft = soft_kd_loss(student_logits, teacher_logits, self.T)
        if not self.t_squared:
            soft = soft / self.T**2
        return (1.0 - self.alpha) * hard + self.alpha * soft


def kd_objective(alpha: float, T: float, t_squared: bool = True) -> KDObjective:
    """``(1 - alpha) * CE + alpha * soft_kd_loss`` as a fit objective (see :class:`KDObjective`)."""
    return KDObjective(alpha, T, t_squared)


def logit_matching_objective(alpha: float) -> Objective:
    """``(1 - alpha) * CE + alpha * logit_matching_loss``: the T -> infinity limit of :func:`kd_objective`."""
    alpha = check_alpha(alpha)

    def objective(
        student_logits: Tensor, targets: Tensor, teacher_logits: Tensor | None
    ) -> Tensor:
        teacher_logits = _needs_teacher(teacher_logits, "logit_matching_objective")
        check_targets(student_logits, targets)
        hard = F.cross_entropy(student_logits, targets)
        return (1.0 - alpha) * hard + alpha * logit_matching_loss(
            student_logits, teacher_logits
        )

    return objective
