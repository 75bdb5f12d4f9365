"""The teacher check: is a teacher clearly better than the student trained alone, before you distil?"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

from .evaluate import accuracy, predict
from .runtime import seed_everything
from .train import fit

# the book's rule: a teacher whose test error is at most 0.6 x the student-alone error is clearly
# better than the student (Hinton et al.'s MNIST teacher had 0.46 times its student's)
HEADROOM_RATIO = 0.6


def has_headroom(teacher_accuracy: float, student_accuracy: float) -> bool:
    """The rule: the teacher's error at most :data:`HEADROOM_RATIO` times the student-alone error."""
    return (1 - teacher_accuracy) <= HEADROOM_RATIO * (1 - student_accuracy)


@dataclass(frozen=True)
class TeacherCheck:
    """What :func:`check_teacher` measured: both accuracies on the same held-out images."""

    teacher_accuracy: float
    student_accuracy: float
    images: int
    headroom: bool

    def __str__(self) -> str:
        t, s = 1 - self.teacher_accuracy, 1 - self.student_accuracy
        ratio = f"{t / s:.2f}" if s else "inf"
        numbers = (
            f"the teacher's error on {self.images} held-out images is {t:.1%}, the "
            f"student-alone error {s:.1%} (ratio {ratio}; the rule: at most "
            f"{HEADROOM_RATIO:g})"
        )
        if self.headroom:
            return f"teacher check: headroom to distil: {numbers}"
        return (
            f"teacher check: NO HEADROOM: {numbers}. A teacher not clearly better than "
            "the student alone has little to teach it, and distilling it can cost "
            "accuracy: use a stronger teacher (more data, augmentation, a longer "
            "schedule) before you distil"
        )


def check_teacher(
    teacher: nn.Module,
    data: object,
    student: nn.Module | Callable[[], nn.Module] | None = None,
    *,
    baseline_accuracy: float | None = None,
    epochs: int = 10,
    lr: float = 1e-3,
    seed: int = 0,
    **fit_kwargs: object,
) -> TeacherCheck:
    """Measure ``teacher`` beside the student trained alone, on held-out images, before distilling.

    ``data``: splits with ``train``, ``val`` and ``test`` (:func:`kdutils.load_splits` or
    :func:`kdutils.image_folder_datasets`; without a test split, the validation images are held
    out). The baseline is ``baseline_accuracy`` (measured on the same held-out images), or a
    student trained alone here: ``student`` (a model, copied, or a function that builds one),
    seeded with ``seed``, fit for ``epochs`` with ``lr`` and ``fit_kwargs``. The teacher has
    headroom when :func:`has_headroom`; without it this warns (a ``UserWarning`` with the
    numbers) and still returns the :class:`TeacherCheck`.
    """
    held_out = data.test if getattr(data, "test", None) is not None else data.val
    logits, labels = predict(teacher, held_out)
    classes = getattr(data, "classes", None)
    if classes is not None and logits.shape[1] != len(classes):
        raise ValueError(
            f"the teacher has {logits.shape[1]} outputs, the data {len(classes)} classes "
            f"({classes}): give a teacher trained on these classes, in this order"
        )
    teacher_accuracy = accuracy(logits, labels)
    if baseline_accuracy is None:
        if student is None:
            raise ValueError(
                "check_teacher needs a baseline: student= (a model, or a function that "
                "builds one, trained alone here) or baseline_accuracy= (measured on the "
                "same held-out images)"
            )
        seed_everything(seed)
        model = copy.deepcopy(student) if isinstance(student, nn.Module) else student()
        fit(model, data.train, data.val, epochs=epochs, lr=lr, seed=seed, **fit_kwargs)
        baseline_accuracy = accuracy(*predict(model, held_out))
    check = TeacherCheck(
        teacher_accuracy,
        float(baseline_accuracy),
        len(held_out),
        has_headroom(teacher_accuracy, baseline_accuracy),
    )
    if not check.headroom:
        warnings.warn(str(check), UserWarning, stacklevel=2)
    return check
