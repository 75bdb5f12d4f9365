"""Distillation losses: soft KD (with T^2), hard-label KD, the combined objective, DeiT's loss, logit matching.

Conventions (used by every chapter):

* ``soft_kd_loss = KL(softmax(t/T) || softmax(s/T)) * T^2``, averaged over the batch (``batchmean``),
  computed from log-probabilities on both sides.
* ``distillation_loss = (1 - alpha) * CE(s, y) + alpha * soft_kd_loss``: ``alpha`` weighs the teacher.
* The fit-loop objective :class:`KDObjective` uses Hinton's cross-entropy form of the soft term (its value
  is larger by ``alpha * T^2`` times the teacher's entropy, its gradient is the same) and gives the fit
  loop that gradient in closed form.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Literal, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor


def _as_number(value: object) -> float | None:
    """``value`` as a Python float: numbers, numpy scalars and 0-d tensors; None for anything else."""
    if isinstance(value, torch.Tensor) and value.ndim == 0 and not value.is_complex():
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    return float(value)


def check_temperature(T: float) -> float:
    """``T`` as a float; a ValueError unless it is a finite number > 0 (numpy and 0-d tensor
    scalars are numbers too)."""
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
        raise ValueError(
            f"targets must be class indices of shape ({logits.shape[0]},); "
            f"got {tuple(targets.shape)}"
        )


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
    """Hinton's formulation: ``-sum softmax(t/T) log softmax(s/T) * T^2``, batch mean.

    It differs from :func:`soft_kd_loss` by the teacher's entropy, a constant for the student,
    so both give the same gradient.
    """
    T = check_temperature(T)
    check_logits(student_logits, teacher_logits)
    p_teacher = F.softmax(teacher_logits / T, dim=1)
    return -(p_teacher * F.log_softmax(student_logits / T, dim=1)).sum(dim=1).mean() * (
        T * T
    )


def hard_distillation_loss(student_logits: Tensor, teacher_logits: Tensor) -> Tensor:
    """DeiT's hard-label distillation: cross-entropy against the teacher's argmax decision."""
    check_logits(student_logits, teacher_logits)
    return F.cross_entropy(student_logits, teacher_logits.argmax(dim=1))


def logit_matching_loss(student_logits: Tensor, teacher_logits: Tensor) -> Tensor:
    """``0.5 * mean((s - t)^2)`` over logits centred per image: the limit of :func:`soft_kd_loss` as T grows.

    Hinton et al.'s limit (2015, sec. 2.1) holds for logits "zero-meaned separately for each
    transfer case"; softmax ignores a constant per image, so centring both sides changes nothing a
    softmax sees and removes a difference the soft loss never penalises. The gradient,
    ``(s_c - t_c) / (batch * classes)``, is what ``soft_kd_loss``'s gradient tends to.
    """
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
    T = check_temperature(T)
    check_logits(student_logits, teacher_logits)
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
    """DeiT's objective as in its ``losses.py``: ``(1 - alpha) * CE(class head, y) + alpha * distill``.

    ``soft``: KL at temperature ``tau`` times tau^2, summed and divided by ``numel`` (batch x classes,
    DeiT's code), which is C times smaller than ``soft_reduction="batchmean"`` (divided by the batch,
    as Hinton et al. and :func:`soft_kd_loss`). ``hard``: CE of the distillation head against the
    teacher's argmax. ``none``: CE of the class head only. With no distillation token, pass the same
    logits twice.
    """
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
    tau = check_temperature(tau)
    check_logits(dist_logits, teacher_logits)
    if kind == "soft":
        distill = (
            F.kl_div(
                F.log_softmax(dist_logits / tau, dim=1),
                F.log_softmax(teacher_logits / tau, dim=1),
                reduction="sum",
                log_target=True,
            )
            * (tau * tau)
            / (dist_logits.numel() if soft_reduction == "numel" else len(dist_logits))
        )
    else:
        distill = F.cross_entropy(dist_logits, teacher_logits.argmax(dim=1))
    return (1.0 - alpha) * base + alpha * distill


def entropy(logits: Tensor, T: float = 1.0) -> Tensor:
    """Entropy in nats of ``softmax(logits / T)``, one value per row."""
    T = check_temperature(T)
    log_p = F.log_softmax(logits / T, dim=1)
    return -(log_p.exp() * log_p).sum(dim=1)


def require_finite(loss: float, where: str) -> float:
    """Return ``loss`` (a Python number), or raise FloatingPointError naming ``where`` if it is NaN or infinite."""
    if not math.isfinite(loss):
        raise FloatingPointError(
            f"non-finite loss ({loss!r}) at {where}; lower the learning rate, "
            f"check the inputs for NaN, or check T and alpha"
        )
    return loss


class KDTargets(NamedTuple):
    """:class:`KDObjective`'s per-image targets, class-major: one column per image."""

    probs: Tensor  # (2 * classes, images): onehot(y) above softmax(t / T)
    offset: Tensor  # (classes, images): (1 - alpha) * onehot(y) + alpha * T * softmax(t / T), the gradient's constant part
    # (images,): the entropy of softmax(t / T), which turns the soft cross-entropy into the KL
    entropy: Tensor | None

    def select(self, images: Tensor) -> KDTargets:
        """The columns of these images, in this order."""
        return KDTargets(
            self.probs.index_select(1, images),
            self.offset.index_select(1, images),
            None if self.entropy is None else self.entropy.index_select(0, images),
        )

    def to(self, device: str | torch.device) -> KDTargets:
        """Every tensor on ``device``."""
        return KDTargets(*(None if t is None else t.to(device) for t in self))


class KDStep(NamedTuple):
    """One batch of :meth:`KDObjective.value_and_grad`: the objective's value, its gradient at the
    student's logits, and the batch's summed cross-entropies with the labels and with the teacher's
    soft targets (:meth:`KDObjective.parts` turns sums over many batches into the loss's parts)."""

    value: float  # Hinton's cross-entropy form, averaged over the batch
    grad: Tensor
    cross_entropies: tuple[float, float]  # summed CE(s, y), CE(softmax(t / T), s / T)


class KDObjective:
    """Hinton's objective with its gradient in closed form, for precomputed teacher targets.

    ``(1 - alpha) * CE(s, y) + alpha * T^2 * soft_target_cross_entropy(s, t, T)``. Called, it is an
    ordinary autograd loss. The fit loop instead builds per-image targets once (:meth:`teacher_targets`)
    and asks :meth:`value_and_grad` for the value and for the gradient with respect to the student's
    logits, which chapter 1 derives: per image, ``(1 - alpha) * (softmax(s) - onehot(y)) +
    alpha * T * (softmax(s / T) - softmax(t / T))``, averaged over the batch. ``backward`` then starts at
    the logits: a small student pays for a few tensor operations per step instead of a loss graph.
    The value is Hinton's cross-entropy form, larger than :func:`distillation_loss` by ``alpha * T^2``
    times the teacher's entropy, a constant for the student: the gradients are the same.
    """

    def __init__(self, alpha: float, T: float, t_squared: bool = True) -> None:
        alpha = check_alpha(alpha)
        T = check_temperature(T)
        self.alpha, self.T = alpha, T
        soft_scale = (
            1.0 if t_squared else 1.0 / (T * T)
        )  # t_squared=False: an ablation, not a recommendation
        self._soft_scale = soft_scale * T * T  # the soft part's factor: T^2 by default
        self._weights = (1.0 - alpha, alpha * self._soft_scale)
        self._constants: dict[
            tuple[torch.device, torch.dtype], tuple[Tensor, Tensor]
        ] = {}

    def _scale_and_coef(self, like: Tensor) -> tuple[Tensor, Tensor]:
        """The logit scales (1, 1/T) and the gradient's coefficients (weight x scale), on ``like``'s device and dtype."""
        key = (like.device, like.dtype)
        if key not in self._constants:
            hard_weight, soft_weight = self._weights
            self._constants[key] = (
                torch.tensor(
                    [1.0, 1.0 / self.T], device=like.device, dtype=like.dtype
                ).view(2, 1, 1),
                torch.tensor(
                    [[hard_weight, soft_weight / self.T]],
                    device=like.device,
                    dtype=like.dtype,
                ),
            )
        return self._constants[key]

    def teacher_targets(self, teacher_logits: Tensor, labels: Tensor) -> KDTargets:
        """The targets of these images, from the teacher's logits and the labels."""
        check_targets(teacher_logits, labels)
        hard_weight, soft_weight = self._weights
        logits = teacher_logits.detach().to(
            torch.promote_types(teacher_logits.dtype, torch.float32)
        )
        soft = F.softmax(logits / self.T, dim=1).t()
        hard = F.one_hot(labels, logits.shape[1]).t().to(soft.dtype)
        offset = hard * hard_weight + soft * (soft_weight / self.T)
        entropy = -(soft * torch.log_softmax(logits / self.T, dim=1).t()).sum(0)
        return KDTargets(torch.cat([hard, soft]), offset.contiguous(), entropy)

    def value_and_grad(self, student_logits: Tensor, targets: KDTargets) -> KDStep:
        """The objective's value and its gradient with respect to ``student_logits``, for this batch's
        targets, and the loss's hard and soft parts (the KL form, comparable with other libraries' logs).

        ``targets``: the batch's columns of :meth:`teacher_targets`, in the order of the logits' rows.
        Every tensor operation counts at this scale (a 20-20 student's step takes half a millisecond):
        no autograd graph, no copies, no slices.
        """
        probs, offset, _ = targets
        batch, classes = student_logits.shape if student_logits.ndim == 2 else (-1, -1)
        if probs.shape != (2 * classes, batch) or offset.shape != (classes, batch):
            raise ValueError(
                f"teacher targets must be (2 * classes, batch) and (classes, batch) for student logits "
                f"{tuple(student_logits.shape)}; got {tuple(probs.shape)} and {tuple(offset.shape)}"
            )
        scale, coef = self._scale_and_coef(offset)
        with torch.no_grad():
            logits = (
                student_logits
                if student_logits.dtype == offset.dtype
                else student_logits.to(offset.dtype)
            )
            # Class-major (2, classes, batch): PyTorch's CPU log-softmax is several times faster over a short
            # leading dimension than over a last dimension of 10 classes.
            log_q = torch.log_softmax(logits.t() * scale, dim=1)
            # the batch's summed cross-entropies with the labels and with the soft targets, read
            # in the step's one sync (the diagonal of a 2 x 2 product: one small matmul); the
            # value is their weighted sum
            hard_ll, soft_ll = (
                torch.mm(log_q.view(2, -1), probs.view(2, -1).t()).diagonal().tolist()
            )
            hard_ce, soft_ce = -hard_ll, -soft_ll
            hard_weight, soft_weight = self._weights
            value = (hard_weight * hard_ce + soft_weight * soft_ce) / batch
            # sum_k weight_k * scale_k * softmax(scale_k * s) - offset, over the batch
            grad = (
                torch.addmm(
                    offset.view(1, -1),
                    coef,
                    log_q.exp().view(2, -1),
                    beta=-1.0 / batch,
                    alpha=1.0 / batch,
                )
                .view(classes, batch)
                .t()
            )
        return KDStep(
            value,
            grad
            if grad.dtype == student_logits.dtype
            else grad.to(student_logits.dtype),
            (hard_ce, soft_ce),
        )

    def parts(
        self, cross_entropies: Sequence[float], images: int, teacher_entropy: float
    ) -> tuple[float, float]:
        """The loss's parts per image, from :class:`KDStep` cross-entropies summed over ``images``
        images whose soft targets have mean entropy ``teacher_entropy``: ``(CE(s, y),
        T^2 KL(teacher || student))`` (the soft part without ``T^2`` when ``t_squared=False``), so
        that ``(1 - alpha) * hard + alpha * soft`` is :func:`distillation_loss`."""
        hard, soft = (float(ce) / images for ce in cross_entropies)
        return hard, (soft - teacher_entropy) * self._soft_scale

    def __call__(
        self, student_logits: Tensor, labels: Tensor, teacher_logits: Tensor | None
    ) -> Tensor:
        if teacher_logits is None:
            raise ValueError(
                "kd_objective needs teacher logits: pass teacher= (a model or a TeacherCache) to fit"
            )
        check_logits(student_logits, teacher_logits)
        check_targets(student_logits, labels)
        hard_weight, soft_weight = self._weights
        return hard_weight * F.cross_entropy(student_logits, labels) + soft_weight / (
            self.T * self.T
        ) * soft_target_cross_entropy(student_logits, teacher_logits, self.T)


def kd_objective(alpha: float, T: float, t_squared: bool = True) -> KDObjective:
    """``(1 - alpha) * CE + alpha * T^2 * soft-target CE`` as a fit-loop objective (see :class:`KDObjective`)."""
    return KDObjective(alpha, T, t_squared)


def logit_matching_objective(alpha: float):
    """``(1 - alpha) * CE + alpha * logit_matching_loss``: the T -> infinity limit of :func:`kd_objective`."""
    alpha = check_alpha(alpha)

    def objective(
        student_logits: Tensor, targets: Tensor, teacher_logits: Tensor | None
    ) -> Tensor:
        if teacher_logits is None:
            raise ValueError(
                "logit_matching_objective needs teacher logits: pass teacher= to fit"
            )
        check_targets(student_logits, targets)
        hard = F.cross_entropy(student_logits, targets)
        return (1.0 - alpha) * hard + alpha * logit_matching_loss(
            student_logits, teacher_logits
        )

    return objective
