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
    assert (
        "fashion-mnist" in note
    )  # the resolver's message: every place looked and the fix
