"""The Fashion-MNIST chapter setup: the data with its fallback, and the students' smaller split."""

import torch

from kdbook import fashion
from kdbook.profiles import get_profile
from tests.conftest import write_fake_mnist


def test_fashion_mnist_from_the_cache_and_a_stratified_student_split(isolated_sources):
    write_fake_mnist(
        isolated_sources / "cache" / "fashion-mnist", n_train=200, n_test=20
    )
    smoke = get_profile("smoke")
    splits, note = fashion.load_fashion(smoke)
    assert splits.name == "fashion-mnist" and note.startswith("Fashion-MNIST from")
    per_class = torch.bincount(splits.train.y).min().item() // 2
    students = fashion.student_train_split(splits, per_class)
    assert torch.bincount(students.y).tolist() == [per_class] * 10
    assert fashion.student_train_split(splits, 10_000) is splits.train


def test_without_fashion_mnist_the_chapter_says_it_falls_back_to_mnist(
    isolated_sources,
):
    splits, note = fashion.load_fashion(get_profile("smoke"))
    assert splits.name == "mnist" and note.startswith(
        "FALLBACK: Fashion-MNIST was not found"
    )
    # the resolver's message: every place looked and the fix
    assert "fashion-mnist" in note


def test_deit_students_recipe_halves_the_batch_and_scales_the_learning_rate_with_it():
    recipe = fashion.deit_student_training(epochs=4, progress=False)
    base = fashion.student_training()
    assert recipe["batch_size"] == fashion.DEIT_BATCH == 64
    # DeiT's rule: the learning rate linear in the batch
    assert recipe["lr"] / recipe["batch_size"] == base["lr"] / base["batch_size"]
    assert recipe["weight_decay"] == 0.05 and recipe["schedule"] == "cosine"
    assert recipe["epochs"] == 4 and recipe["progress"] is False


def test_deit_student_with_a_token_has_two_heads_and_one_without():
    from kdutils.data import Split, Splits
    from kdutils.deit import DistilledViT

    def split(n):
        return Split(torch.randn(n, 1, 28, 28), torch.arange(n) % 10)

    splits = Splits("random", split(20), split(10), split(10), list("0123456789"), "t")
    plain = fashion.deit_student(splits, distilled=False, **fashion.DEIT_STUDENT)
    token = fashion.deit_student(splits, distilled=True, **fashion.DEIT_STUDENT)
    x = splits.train.x[:4]
    assert plain(x).shape == (4, 10)
    assert isinstance(token, DistilledViT)
    cls, dist = token.train()(x)
    assert cls.shape == dist.shape == (4, 10)
    assert token.eval()(x).shape == (4, 10)  # both heads, averaged
