"""The MNIST chapter setup: student runs, sweep jobs, the class shift."""

import numpy as np
import pytest
import torch

from kdutils.cache import TeacherCache
from tests.conftest import train_small


def test_mnist_student_run_and_class_shift(digits):
    from kdbook import mnist

    model, history, metrics = mnist.train_student((16,), digits, seed=0, epochs=2)
    _, _, again = mnist.train_student((16,), digits, seed=0, epochs=2)
    assert (
        np.array_equal(metrics.pop("correct"), again.pop("correct"))
        and metrics == again
    )
    assert len(history.epochs) == 2
    logits = torch.tensor([[2.0, 1.0], [0.0, 1.0]])
    y = torch.tensor([1, 1])
    assert mnist.accuracy_with_shift(logits, y, 1, 0.0) == 0.5
    assert mnist.accuracy_with_shift(logits, y, 1, 1.5) == 1.0


def test_student_job_objectives(digits):
    from kdbook import mnist

    teacher, _ = train_small(digits, 3)
    shared = {
        "splits": digits,
        "caches": {"train": TeacherCache(teacher, digits.train.x)},
    }
    results = {}
    for name, objective in (
        ("alone", {"kind": "alone"}),
        ("no soft term", {"kind": "kd", "alpha": 0.0, "T": 4.0}),
        ("kd", {"kind": "kd", "alpha": 0.5, "T": 4.0, "t_squared": False}),
        ("logits", {"kind": "logits", "alpha": 0.5}),
    ):
        job = {"hidden": [8], "seed": 0, "epochs": 2, "objective": objective}
        results[name] = mnist.student_job(job, shared)
        assert results[name]["objective"] == objective
    # distillation with alpha = 0 is training alone (up to rounding in the closed-form gradient)
    alone, no_soft = results["alone"], results["no soft term"]
    assert np.mean(alone["correct"] != no_soft["correct"]) <= 0.01
    assert no_soft["accuracy"] == pytest.approx(alone["accuracy"], abs=0.01)
    # a soft term changes what is learnt
    assert not np.array_equal(results["kd"]["correct"], alone["correct"])
    with pytest.raises(ValueError, match="unknown objective kind 'mse'"):
        mnist.objective_for({"kind": "mse"})


def test_student_job_on_other_data_with_probes_and_agreement(digits):
    from kdbook import mnist
    from kdutils.data import Split
    from kdutils.evaluate import predict_logits

    teacher, _ = train_small(digits, 3)
    half = Split(digits.train.x[::2], digits.train.y[::2])
    shared = {
        "splits": digits,
        "data": {"half": half},
        "caches": {"half": TeacherCache(teacher, half.x)},
        "probes": {"val": digits.val.x},
        "teacher_test_logits": predict_logits(teacher, digits.test.x),
    }
    job = {
        "hidden": [8],
        "seed": 0,
        "epochs": 2,
        "objective": {"kind": "kd", "alpha": 0.5, "T": 4.0},
        "recipe": "blog",
        "data": "half",
        "probes": ["val"],
    }
    result = mnist.student_job(job, shared)
    assert result["logits_val"].shape == (len(digits.val), 10)
    assert 0.0 <= result["agreement"] <= 1.0
    assert len(result["agrees"]) == len(digits.test)
    assert mnist.epochs_for_steps(3750, 3600, 64) == 66
    with pytest.raises(ValueError, match="unknown recipe 'sgd'"):
        mnist.train_student((8,), digits, 0, epochs=1, recipe="sgd")


def test_student_job_validates_once_with_the_same_result(digits, monkeypatch):
    from kdbook import mnist

    histories = []
    fit = mnist.fit
    monkeypatch.setattr(
        mnist, "fit", lambda *a, **k: histories.append(fit(*a, **k)) or histories[-1]
    )
    job = {"hidden": [8], "seed": 0, "epochs": 3, "objective": {"kind": "alone"}}
    result = mnist.student_job(job, {"splits": digits})
    assert [row["epoch"] for row in histories[0].epochs] == [3]
    _, every_epoch, _ = mnist.train_student((8,), digits, seed=0, epochs=3)
    assert len(every_epoch.epochs) == 3
    assert result["val_accuracy"] == every_epoch.epochs[-1]["val_accuracy"]
