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

#: The book's rule: a teacher clearly better than the student has a test error at most 0.6
#: times the student-alone error (Hinton et al.'s MNIST teacher had 0.46 times its student's).
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
        verdict = "headroom to distil" if self.headroom else "NO HEADROOM"
        text = (
            f"teacher check: {verdict}: the teacher's error on {self.images} held-out images is "
            f"{t:.1%}, the student-alone error {s:.1%} (ratio {t / s if s else float('inf'):.2f}; "
            f"the rule: at most {HEADROOM_RATIO:g})"
        )
        if self.headroom:
            return text
        return text + (
            ". A teacher not clearly better than the student alone has little to teach it, and "
            "distilling it can cost accuracy: use a stronger teacher (more data, augmentation, "
            "a longer schedule) first"
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

    ``data``: splits with ``train``, ``val``, ``test`` (:func:`kdutils.data.load_splits`,
    :func:`kdutils.folders.image_folder_datasets`; no test split: the validation images are held out).
    The baseline is ``baseline_accuracy`` (on the same held-out images), or a student trained
    alone here: ``student`` (a model, copied, or a function building one), seeded with
    ``seed``, fit for ``epochs`` with ``lr`` and ``fit_kwargs``. Without headroom
    (:func:`has_headroom`) this warns, a ``UserWarning`` with the numbers, and carries on.
    """
    held_out = data.test if getattr(data, "test", None) is not None else data.val
    (logits, labels), classes = (
        predict(teacher, held_out),
        getattr(data, "classes", None),
    )
    if classes is not None and logits.shape[1] != len(classes):
        raise ValueError(
            f"the teacher has {logits.shape[1]} outputs, the data {len(classes)} classes "
            f"({classes}): give a teacher trained on these classes, in this order"
        )
    if baseline_accuracy is None:
        if student is None:
            raise ValueError(
                "check_teacher needs a baseline: student= (a model, or a function building "
                "one, trained alone here) or baseline_accuracy= (on the same images)"
            )
        seed_everything(seed)
        model = copy.deepcopy(student) if isinstance(student, nn.Module) else student()
        fit(model, data.train, data.val, epochs=epochs, lr=lr, seed=seed, **fit_kwargs)
        baseline_accuracy = accuracy(*predict(model, held_out))
    teacher_accuracy = accuracy(logits, labels)
    room = has_headroom(teacher_accuracy, baseline_accuracy)
    check = TeacherCheck(teacher_accuracy, baseline_accuracy, len(held_out), room)
    if not room:
        warnings.warn(str(check), UserWarning, stacklevel=2)
    return check
