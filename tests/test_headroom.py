"""The teacher check: a teacher measured beside the student alone, a warning without headroom."""

import warnings

import pytest
import torch

from kdutils import check_teacher
from kdutils.headroom import HEADROOM_RATIO, TeacherCheck, has_headroom
from kdutils.models import mlp
from tests.conftest import train_small


def test_the_rule():
    assert HEADROOM_RATIO == 0.6
    assert has_headroom(0.95, 0.90) and not has_headroom(0.93, 0.90)


def test_a_teacher_no_better_than_the_student_alone_gets_a_warning_with_numbers(digits):
    teacher, _ = train_small(digits, 0)  # the student's own architecture and recipe
    with pytest.warns(
        UserWarning, match=r"NO HEADROOM: the teacher's error on 360 held"
    ):
        check = check_teacher(
            teacher,
            digits,
            lambda: mlp(64, [32], 10),
            epochs=3,
            lr=1e-2,
            progress=False,
        )
    assert not check.headroom and check.student_accuracy > 0.8
    assert check.images == len(digits.test)


def test_a_good_teacher_passes_silently(digits):
    teacher, _ = train_small(digits, 10)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check = check_teacher(teacher, digits, baseline_accuracy=0.5)
    assert check.headroom and "headroom to distil" in str(check)
    # a model given as the student is copied, not trained in place
    student = mlp(64, [4], 10)
    before = [p.clone() for p in student.parameters()]
    check_teacher(teacher, digits, student, epochs=1, progress=False)
    assert all(torch.equal(a, b) for a, b in zip(before, student.parameters()))


def test_the_check_needs_a_baseline_and_a_teacher_for_these_classes(digits):
    with pytest.raises(ValueError, match="needs a baseline: student= .* baseline_acc"):
        check_teacher(mlp(64, [4], 10), digits)
    with pytest.raises(ValueError, match="the teacher has 3 outputs, the data 10 cl"):
        check_teacher(mlp(64, [4], 3), digits, baseline_accuracy=0.5)


def test_the_check_reads_as_a_sentence():
    check = TeacherCheck(0.95, 0.80, 1000, True)
    assert "is 5.0%, the student-alone error 20.0% (ratio 0.25" in str(check)
