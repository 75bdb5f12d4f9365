"""Losses against hand-computed values, the sources' reference formulas, and autograd."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from kdutils import losses
from kdutils.cache import TeacherCache
from tests.conftest import train_small


@pytest.fixture(autouse=True)
def float64(request):
    if request.node.get_closest_marker("float32"):  # tests that train on float32 data
        yield
        return
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)


@pytest.fixture
def logits():
    g = torch.Generator().manual_seed(0)
    student = torch.randn(8, 5, generator=g) * 3
    teacher = torch.randn(8, 5, generator=g) * 3
    targets = torch.randint(0, 5, (8,), generator=g)
    return student, teacher, targets


def test_soft_kd_by_hand_two_classes():
    # teacher softmax = (0.75, 0.25), student softmax = (0.5, 0.5) at T = 1
    student = torch.tensor([[0.0, 0.0]])
    teacher = torch.tensor([[math.log(3.0), 0.0]])
    expected = 0.75 * math.log(0.75 / 0.5) + 0.25 * math.log(0.25 / 0.5)
    assert losses.soft_kd_loss(student, teacher, 1.0).item() == pytest.approx(
        expected, rel=1e-12
    )
    # at T = 2 the teacher becomes (sqrt3, 1) / (sqrt3 + 1); the loss is multiplied by T^2 = 4
    p = math.sqrt(3) / (math.sqrt(3) + 1)
    expected_t2 = 4 * (p * math.log(p / 0.5) + (1 - p) * math.log((1 - p) / 0.5))
    assert losses.soft_kd_loss(student, teacher, 2.0).item() == pytest.approx(
        expected_t2, rel=1e-12
    )


def test_soft_kd_is_zero_when_student_matches_teacher(logits):
    _, teacher, _ = logits
    assert losses.soft_kd_loss(teacher + 7.0, teacher, 3.0).item() == pytest.approx(
        0.0, abs=1e-12
    )


def hf_guide_compute_loss(
    student_logits, teacher_logits, labels, temperature, lambda_param
):
    """The Hugging Face guide's ImageDistilTrainer.compute_loss, restated."""
    loss_function = nn.KLDivLoss(reduction="batchmean")
    soft_teacher = F.softmax(teacher_logits / temperature, dim=-1)
    soft_student = F.log_softmax(student_logits / temperature, dim=-1)
    distillation_loss = loss_function(soft_student, soft_teacher) * (temperature**2)
    student_target_loss = F.cross_entropy(student_logits, labels)
    return (1.0 - lambda_param) * student_target_loss + lambda_param * distillation_loss


@pytest.mark.parametrize("T, alpha", [(1.0, 0.0), (5.0, 0.5), (2.5, 0.9), (7.0, 1.0)])
def test_distillation_loss_matches_hf_guide(logits, T, alpha):
    student, teacher, targets = logits
    ours = losses.distillation_loss(student, targets, teacher, alpha=alpha, T=T)
    assert ours.item() == pytest.approx(
        hf_guide_compute_loss(student, teacher, targets, T, alpha).item(), rel=1e-12
    )


def deit_distillation_loss(
    outputs, outputs_kd, labels, teacher_outputs, distillation_type, alpha, tau
):
    """DeiT's DistillationLoss.forward (facebookresearch/deit losses.py), restated."""
    base_loss = F.cross_entropy(outputs, labels)
    if distillation_type == "none":
        return base_loss
    if distillation_type == "soft":
        T = tau
        distillation_loss = (
            F.kl_div(
                F.log_softmax(outputs_kd / T, dim=1),
                F.log_softmax(teacher_outputs / T, dim=1),
                reduction="sum",
                log_target=True,
            )
            * (T * T)
            / outputs_kd.numel()
        )
    elif distillation_type == "hard":
        distillation_loss = F.cross_entropy(outputs_kd, teacher_outputs.argmax(dim=1))
    return base_loss * (1 - alpha) + distillation_loss * alpha


@pytest.mark.parametrize("kind", ["none", "soft", "hard"])
@pytest.mark.parametrize("alpha, tau", [(0.5, 1.0), (0.1, 3.0), (1.0, 0.5)])
def test_deit_loss_matches_deit_code(logits, kind, alpha, tau):
    student, teacher, targets = logits
    dist_head = student.flip(0)
    ours = losses.deit_loss(
        student, dist_head, targets, teacher, kind, alpha=alpha, tau=tau
    )
    ref = deit_distillation_loss(student, dist_head, targets, teacher, kind, alpha, tau)
    assert ours.item() == pytest.approx(ref.item(), rel=1e-12)


def test_deit_soft_is_num_classes_times_smaller_than_batchmean(logits):
    student, teacher, targets = logits
    deit_soft = losses.deit_loss(
        student, student, targets, teacher, "soft", alpha=1.0, tau=2.0
    )
    assert (
        losses.soft_kd_loss(student, teacher, 2.0) / deit_soft
    ).item() == pytest.approx(5.0, rel=1e-12)
    batchmean = losses.deit_loss(
        student,
        student,
        targets,
        teacher,
        "soft",
        alpha=1.0,
        tau=2.0,
        soft_reduction="batchmean",
    )
    assert batchmean.item() == pytest.approx(
        losses.soft_kd_loss(student, teacher, 2.0).item(), rel=1e-12
    )
    with pytest.raises(ValueError, match="'numel' or 'batchmean'; got 'mean'"):
        losses.deit_loss(
            student, student, targets, teacher, "soft", soft_reduction="mean"
        )


def test_hinton_soft_cross_entropy_by_formula_and_same_gradient_as_kl(logits):
    student, teacher, _ = logits
    T = 4.0
    p = torch.softmax(teacher / T, dim=1)
    q = torch.softmax(student / T, dim=1)
    by_hand = -(p * q.log()).sum(dim=1).mean() * T * T
    assert losses.soft_target_cross_entropy(
        student, teacher, T
    ).item() == pytest.approx(by_hand.item(), rel=1e-12)
    grads = []
    for fn in (losses.soft_kd_loss, losses.soft_target_cross_entropy):
        z = student.clone().requires_grad_(True)
        fn(z, teacher, T).backward()
        grads.append(z.grad)
    torch.testing.assert_close(grads[0], grads[1], rtol=0, atol=1e-14)


def test_soft_kd_gradient_is_T_times_q_minus_p_over_batch(logits):
    student, teacher, _ = logits
    T = 3.0
    z = student.clone().requires_grad_(True)
    losses.soft_kd_loss(z, teacher, T).backward()
    expected = (
        T
        * (torch.softmax(student / T, 1) - torch.softmax(teacher / T, 1))
        / len(student)
    )
    torch.testing.assert_close(z.grad, expected, rtol=1e-10, atol=1e-14)


def test_gradcheck_all_losses(logits):
    student, teacher, targets = logits
    z = student[:3].clone().requires_grad_(True)
    t, y = teacher[:3], targets[:3]
    assert torch.autograd.gradcheck(lambda s: losses.soft_kd_loss(s, t, 2.0), (z,))
    assert torch.autograd.gradcheck(
        lambda s: losses.distillation_loss(s, y, t, 0.3, 4.0), (z,)
    )
    assert torch.autograd.gradcheck(lambda s: losses.logit_matching_loss(s, t), (z,))
    assert torch.autograd.gradcheck(
        lambda s: losses.deit_loss(s, s * 0.5, y, t, "soft", 0.5, 2.0), (z,)
    )


def test_high_temperature_limit_is_logit_matching(logits):
    student, teacher, _ = logits
    # logits with a different offset per image: softmax ignores it, so must logit matching
    student = student + torch.arange(len(student), dtype=student.dtype)[:, None]
    teacher = teacher - 3.0
    grads = []
    for fn in (
        lambda s: losses.soft_kd_loss(s, teacher, 1e6),
        lambda s: losses.logit_matching_loss(s, teacher),
    ):
        z = student.clone().requires_grad_(True)
        fn(z).backward()
        grads.append(z.grad)
    assert (
        (grads[0] - grads[1]).norm() / grads[1].norm()
    ).item() < 1e-4  # first-order error ~ logits / T


def test_hard_distillation_uses_teacher_argmax(logits):
    student, teacher, _ = logits
    expected = F.cross_entropy(student, teacher.argmax(1))
    assert losses.hard_distillation_loss(student, teacher).item() == pytest.approx(
        expected.item()
    )


def test_entropy_of_uniform_is_log_classes():
    assert losses.entropy(torch.zeros(2, 7)).tolist() == pytest.approx(
        [math.log(7)] * 2
    )


@pytest.mark.parametrize("T", [0, -1.0, float("nan"), float("inf"), "5", True])
def test_bad_temperature_is_refused(logits, T):
    student, teacher, targets = logits
    with pytest.raises(
        ValueError, match=r"temperature T must be a finite number > 0; got"
    ):
        losses.distillation_loss(student, targets, teacher, alpha=0.5, T=T)


@pytest.mark.parametrize("alpha", [-0.1, 1.5, float("nan"), None])
def test_bad_alpha_is_refused(logits, alpha):
    student, teacher, targets = logits
    with pytest.raises(ValueError, match=r"alpha must be a number in \[0, 1\]; got"):
        losses.distillation_loss(student, targets, teacher, alpha=alpha, T=2.0)


def test_mismatched_shapes_are_refused(logits):
    student, teacher, targets = logits
    with pytest.raises(
        ValueError, match=r"same shape; got student \(8, 5\) and teacher \(8, 4\)"
    ):
        losses.soft_kd_loss(student, teacher[:, :4], 2.0)
    with pytest.raises(
        ValueError, match=r"targets must be class indices of shape \(8,\); got \(7,\)"
    ):
        losses.distillation_loss(student, targets[:7], teacher, 0.5, 2.0)


def test_unknown_deit_kind_is_refused(logits):
    student, teacher, targets = logits
    with pytest.raises(ValueError, match="'none', 'soft' or 'hard'; got 'medium'"):
        losses.deit_loss(student, student, targets, teacher, "medium")


def test_non_finite_loss_is_reported():
    with pytest.raises(FloatingPointError, match="non-finite loss .* at epoch 3"):
        losses.require_finite(float("nan"), "epoch 3")


def test_kd_objective_without_T2_and_logit_matching_objective(logits):
    student, teacher, targets = logits
    ce = F.cross_entropy(student, targets)
    without = losses.kd_objective(0.6, 5.0, t_squared=False)(student, targets, teacher)
    expected = 0.4 * ce + 0.6 * losses.soft_kd_loss(student, teacher, 5.0) / 25.0
    assert without.item() == pytest.approx(expected.item(), rel=1e-12)
    matching = losses.logit_matching_objective(0.6)(student, targets, teacher)
    centred = lambda z: z - z.mean(1, keepdim=True)  # noqa: E731
    assert matching.item() == pytest.approx(
        (0.4 * ce + 0.3 * ((centred(student) - centred(teacher)) ** 2).mean()).item(),
        rel=1e-12,
    )
    shifted = losses.logit_matching_objective(0.6)(student, targets, teacher + 5.0)
    assert shifted.item() == pytest.approx(matching.item(), rel=1e-12)


@pytest.mark.parametrize(
    "alpha, T, t_squared",
    [(0.4, 3.0, True), (0.7, 7.0, False), (0.0, 2.0, True), (1.0, 20.0, True)],
)
def test_kd_objective_is_distillation_loss_with_the_gradient_chapter_1_derives(
    alpha, T, t_squared
):
    g = torch.Generator().manual_seed(0)
    s = torch.randn(6, 5, generator=g, requires_grad=True)
    t, y = 3 * torch.randn(6, 5, generator=g), torch.tensor([0, 1, 2, 3, 4, 0])
    value = losses.kd_objective(alpha, T, t_squared)(s, y, t)
    soft_scale = 1.0 if t_squared else 1.0 / T**2
    reference = (1 - alpha) * F.cross_entropy(s, y) + alpha * soft_scale * T**2 * (
        losses.soft_target_cross_entropy(s, t, T) / T**2 - losses.entropy(t, T).mean()
    )
    assert value.item() == pytest.approx(reference.item(), rel=1e-9, abs=1e-12)
    if t_squared:
        expected = losses.distillation_loss(s, y, t, alpha, T)
        assert value.item() == pytest.approx(expected.item(), rel=1e-12)
    # per image (1 - alpha) (softmax(s) - onehot(y)) + alpha T soft_scale (softmax(s/T) - softmax(t/T)), over the batch
    by_hand = (1 - alpha) * (
        F.softmax(s, 1) - F.one_hot(y, 5)
    ) + alpha * T * soft_scale * (F.softmax(s / T, 1) - F.softmax(t / T, 1))
    torch.testing.assert_close(torch.autograd.grad(value, s)[0], by_hand / 6)


def test_kd_objective_needs_a_teacher_and_valid_settings():
    s, y = torch.randn(4, 3), torch.tensor([0, 1, 2, 0])
    objective = losses.kd_objective(0.4, 3.0)
    with pytest.raises(ValueError, match="kd_objective needs teacher logits"):
        objective(s, y, None)
    with pytest.raises(ValueError, match="alpha must be"):
        losses.kd_objective(2.0, 3.0)
    with pytest.raises(ValueError, match="temperature T must be"):
        losses.kd_objective(0.5, 0.0)


@pytest.mark.float32
def test_kd_objective_with_cached_logits_trains_like_the_teacher_forward(digits):
    teacher, _ = train_small(digits, 3)
    objective = losses.kd_objective(0.7, 4.0)
    cached, h1 = train_small(
        digits, 0, objective=objective, teacher=TeacherCache(teacher, digits.train.x)
    )
    live, h2 = train_small(digits, 0, objective=objective, teacher=teacher)
    for a, b in zip(h1.column("train_loss"), h2.column("train_loss")):
        assert a == pytest.approx(b, rel=1e-5)
    for p, q in zip(cached.parameters(), live.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-4, atol=1e-5)


def test_numpy_and_tensor_scalars_are_numbers_too(logits):
    import numpy as np

    student, teacher, targets = logits
    expected = losses.distillation_loss(student, targets, teacher, 0.25, 4.0)
    for alpha, T in (
        (np.float32(0.25), np.float32(4.0)),
        (torch.tensor(0.25), torch.tensor(4.0)),
        (np.float64(0.25), np.int64(4)),
    ):
        got = losses.distillation_loss(student, targets, teacher, alpha, T)
        assert got.item() == pytest.approx(expected.item(), rel=1e-12)
    with pytest.raises(ValueError, match=r"T must be a finite number > 0; got tensor"):
        losses.soft_kd_loss(student, teacher, torch.tensor([4.0, 2.0]))
