"""The MNIST chapters' setup: recipes, step counts, the class shift, the blog's loss."""

import pytest
import torch
import torch.nn.functional as F

from kdbook import mnist
from kdutils.cache import TeacherCache
from kdutils.losses import cross_entropy_objective, kd_objective
from kdutils.models import mlp
from kdutils.train import fit
from tests.conftest import train_small


def test_class_shift_and_steps():
    logits = torch.tensor([[2.0, 1.0], [0.0, 1.0]])
    y = torch.tensor([1, 1])
    assert mnist.accuracy_with_shift(logits, y, 1, 0.0) == 0.5
    assert mnist.accuracy_with_shift(logits, y, 1, 1.5) == 1.0
    assert mnist.correct_with_shift(logits, y, 1, 1.5).tolist() == [1, 1]
    # the blog's 3750 steps at batch 64 over 3600 images
    assert mnist.epochs_for_steps(3750, 3600, 64) == 66
    assert mnist.epochs_for_steps(1, 3600, 64) == 1


def test_the_blogs_loss_is_what_it_restates():
    s, t = torch.randn(4, 10), torch.randn(4, 10)
    y = torch.tensor([0, 1, 2, 3])
    p, q = F.softmax(t / 7, dim=1), F.softmax(s / 7, dim=1)
    # KLDivLoss(q, p) with probabilities q: sum p (log p - q) / batch
    soft = (p * (p.log() - q)).sum() / 4
    expected = 0.3 * F.cross_entropy(s, y) + 0.7 * soft
    assert mnist.blog_buggy_loss(s, y, t) == pytest.approx(expected.item(), rel=1e-5)


@pytest.mark.parametrize("recipe", sorted(mnist.RECIPES))
def test_distilling_with_no_soft_term_is_training_alone(digits, recipe):
    teacher, _ = train_small(digits, 3)
    cache = TeacherCache(teacher, digits.train.x)
    scores = {}
    for name, objective, given in (
        ("alone", cross_entropy_objective, None),
        ("alpha 0", kd_objective(0.0, 4.0), cache),
        ("kd", kd_objective(0.5, 4.0), cache),
    ):
        torch.manual_seed(0)
        model = mlp(64, [8], 10)
        fit(model, digits.train, digits.val, epochs=2, objective=objective,
            teacher=given, seed=0, progress=False, **mnist.RECIPES[recipe])  # fmt: skip
        scores[name] = model(digits.test.x).argmax(1)
    assert (scores["alone"] != scores["alpha 0"]).float().mean() <= 0.01
    # a soft term changes what is learnt
    assert not torch.equal(scores["kd"], scores["alone"])
