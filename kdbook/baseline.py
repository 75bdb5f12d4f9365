"""The blog's naive training loop, kept as the baseline that kdutils' loop is benchmarked against.

Per-item PIL transforms, a ``DataLoader`` and a teacher forward pass at every step, as in the MNIST
blog post. Both loops here train the same models with the same optimizer, batch size and epochs.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset

if TYPE_CHECKING:
    import pandas

from kdutils.cache import TeacherCache
from kdutils.data import Split, Splits
from kdutils.evaluate import classification_metrics
from kdutils.losses import (
    cross_entropy_objective,
    distillation_loss,
    kd_objective,
)
from kdutils.models import mlp
from kdutils.runtime import seed_everything
from kdutils.train import History, fit

BLOG_TEACHER = (1200, 1200)  # the blog's 784-1200-1200-10 teacher (Hinton et al.'s MLP)


class PILImages(Dataset):
    """Images stored as uint8 and turned into tensors one at a time through PIL, like torchvision's MNIST."""

    def __init__(self, split: Split) -> None:
        from torchvision import transforms

        self.images = (split.x * 255).round().to(torch.uint8)
        self.labels = split.y
        size = list(self.images.shape[-2:])
        self.transform = transforms.Compose(
            [transforms.ToPILImage(), transforms.Resize(size), transforms.ToTensor()]
        )

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[Tensor, int]:
        return self.transform(self.images[i]), int(self.labels[i])


def naive_fit(
    model: nn.Module,
    train: Split,
    *,
    epochs: int,
    lr: float,
    batch_size: int,
    betas: tuple[float, float] = (0.9, 0.999),
    teacher: nn.Module | None = None,
    alpha: float = 0.7,
    T: float = 7.0,
    seed: int = 0,
) -> list[float]:
    """The blog's loop: DataLoader over PIL transforms, teacher forward each step. Returns seconds per epoch."""
    seed_everything(seed)
    loader = DataLoader(PILImages(train), batch_size=batch_size, shuffle=True)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, betas=betas)
    if teacher is not None:
        teacher.eval()
    seconds = []
    for _ in range(epochs):
        model.train()
        tic = time.perf_counter()
        for data, targets in loader:
            preds = model(data)
            if teacher is None:
                loss = F.cross_entropy(preds, targets)
            else:
                with torch.no_grad():
                    teacher_preds = teacher(data)
                loss = distillation_loss(preds, targets, teacher_preds, alpha, T)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        seconds.append(time.perf_counter() - tic)
    model.eval()
    return seconds


@dataclass(frozen=True)
class LoopSettings:
    """What both loops share in a comparison: the blog's batch size, Adam's learning rate, KD's weights."""

    batch_size: int = 64
    lr: float = 1e-3
    alpha: float = 0.7
    T: float = 7.0
    seed: int = 0


def compare_loops(
    splits: Splits,
    *,
    teacher_hidden: Sequence[int],
    student_hidden: Sequence[int],
    epochs: int,
    settings: LoopSettings = LoopSettings(),
) -> dict:
    """Seconds per epoch and test accuracy of the naive loop and kdutils' loop on the CPU, same models and settings.

    Rows, in the blog's order: ``teacher`` (training the blog's MLP teacher ``teacher_hidden``), then
    ``scratch`` and ``kd`` (the student alone, and distilled from the teacher kdutils' loop just
    trained). kdutils' KD uses a :class:`TeacherCache`, built once before training; its cost is
    reported apart (``kd["cache_seconds"]``), since it is paid once per data set, not per epoch.
    ``kd_over_scratch["kdutils"]`` is timed apart too, by :func:`alternating_epoch_ratio`.
    """
    in_features, classes = splits.train.x[0].numel(), len(splits.classes)
    rows: dict[str, dict] = {}
    teacher, cache, cache_seconds = None, None, 0.0
    for row, hidden, kd in (
        ("teacher", teacher_hidden, False),
        ("scratch", student_hidden, False),
        ("kd", student_hidden, True),
    ):
        result = {}
        for loop in ("naive", "kdutils"):
            seed_everything(settings.seed)
            model = mlp(in_features, hidden, classes)
            if loop == "naive":
                seconds = naive_fit(
                    model,
                    splits.train,
                    epochs=epochs,
                    teacher=teacher if kd else None,
                    **asdict(settings),
                )
            else:
                seconds = _kdutils_fit(
                    model, splits, cache if kd else None, epochs, settings
                ).column("seconds")
            accuracy = classification_metrics(model, splits.test.x, splits.test.y)[
                "accuracy"
            ]
            # the median is robust to a hiccup of the machine
            result[loop] = {
                "seconds_per_epoch": statistics.median(seconds),
                "test_accuracy": accuracy,
            }
            if row == "teacher" and loop == "kdutils":
                teacher = model.eval()
                tic = time.perf_counter()
                cache = TeacherCache(teacher, splits.train.x)
                cache_seconds = time.perf_counter() - tic  # once per data set
        result["speedup"] = (
            result["naive"]["seconds_per_epoch"]
            / result["kdutils"]["seconds_per_epoch"]
        )
        rows[row] = result
    rows["kd"]["cache_seconds"] = cache_seconds
    naive_ratio = (
        rows["kd"]["naive"]["seconds_per_epoch"]
        / rows["scratch"]["naive"]["seconds_per_epoch"]
    )
    ours = alternating_epoch_ratio(splits, cache, student_hidden, settings)
    rows["kd_over_scratch"] = {"naive": naive_ratio, "kdutils": ours["ratio"]}
    return rows


def alternating_epoch_ratio(
    splits: Splits,
    cache: TeacherCache,
    hidden: Sequence[int],
    settings: LoopSettings = LoopSettings(),
    repeats: int = 25,
) -> dict:
    """kdutils' KD epoch / scratch epoch in CPU seconds: the fastest of ``repeats`` epochs of each, timed in turn.

    An epoch of a 20-20 student lasts tens of milliseconds, less than this machine's slow moments and
    than the slices in which it shares its cores with other notebooks (``make book`` runs several side
    by side). So the measure is the training thread's CPU time, the epochs take turns, and the fastest
    epoch of each, as ``timeit`` advises, is the one least disturbed. Returns the ratio and the CPU seconds.
    """
    in_features, classes = splits.train.x[0].numel(), len(splits.classes)
    seconds: dict[str, list[float]] = {"scratch": [], "kd": []}
    for _ in range(repeats):
        for kind in seconds:
            seed_everything(settings.seed)
            model = mlp(in_features, hidden, classes)
            kd_cache = cache if kind == "kd" else None
            history = _kdutils_fit(model, splits, kd_cache, 1, settings)
            seconds[kind].append(history.epochs[0]["cpu_seconds"])
    return {"ratio": min(seconds["kd"]) / min(seconds["scratch"]), **seconds}


def _kdutils_fit(
    model: nn.Module,
    splits: Splits,
    cache: TeacherCache | None,
    epochs: int,
    settings: LoopSettings,
) -> History:
    """kdutils' loop on the benchmark's settings: distilled from ``cache`` when given, alone otherwise."""
    distilled = cache is not None
    objective = (
        kd_objective(settings.alpha, settings.T)
        if distilled
        else cross_entropy_objective
    )
    return fit(
        model,
        splits.train,
        splits.val,
        epochs=epochs,
        lr=settings.lr,
        batch_size=settings.batch_size,
        objective=objective,
        teacher=cache,
        seed=settings.seed,
        progress=False,
    )


def speed_table(rows: dict) -> pandas.DataFrame:
    """The rows of :func:`compare_loops` as a table: seconds per epoch, speed-up and accuracy per loop."""
    import pandas

    names = {
        "teacher": "teacher training",
        "scratch": "student alone",
        "kd": "student distilled",
    }
    return pandas.DataFrame(
        {
            "naive loop [s/epoch]": [
                rows[r]["naive"]["seconds_per_epoch"] for r in names
            ],
            "kdutils [s/epoch]": [
                rows[r]["kdutils"]["seconds_per_epoch"] for r in names
            ],
            "speed-up [x]": [rows[r]["speedup"] for r in names],
            "naive loop accuracy": [rows[r]["naive"]["test_accuracy"] for r in names],
            "kdutils accuracy": [rows[r]["kdutils"]["test_accuracy"] for r in names],
        },
        index=list(names.values()),
    ).round(3)


def ratio_line(rows: dict) -> str:
    """The KD-epoch / scratch-epoch ratios of both loops and the one-off cost of the teacher cache."""
    ratio = rows["kd_over_scratch"]
    return (
        f"KD epoch / scratch epoch: naive loop {ratio['naive']:.2f} (wall clock, medians),\n"
        f"kdutils {ratio['kdutils']:.2f} (CPU time of the training thread, fastest of 25 "
        f"epochs each, in turn; goal <= 1.1);\nteacher-logit cache built once in "
        f"{rows['kd']['cache_seconds']:.3f} s"
    )
