import pytest
import torch

from kdutils.augment import (
    Augmentation,
    Mixup,
    random_erasing,
    random_hflip,
    random_shift,
    view_bank,
)
from kdutils.data import Split


def images(n=64, size=8):
    return torch.rand(n, 1, size, size)


def test_random_shift_moves_each_image_by_its_own_offset_within_bounds():
    x = torch.zeros(200, 1, 9, 9)
    x[:, 0, 4, 4] = 1.0  # one lit pixel in the centre
    out = random_shift(x, 2, torch.Generator().manual_seed(0))
    positions = out[:, 0].flatten(1).argmax(1)
    rows, cols = positions // 9, positions % 9
    assert out.sum() == 200  # nothing lost: the pixel never leaves the image
    assert rows.min() == 2 and rows.max() == 6 and cols.min() == 2 and cols.max() == 6
    assert len(set(zip(rows.tolist(), cols.tolist()))) == 25  # all 25 offsets drawn


def test_random_shift_matches_roll_with_zero_fill():
    x = images(1, 6)
    g = torch.Generator().manual_seed(3)
    dy, dx = (torch.randint(0, 5, (2, 1), generator=g) - 2).flatten().tolist()
    out = random_shift(x, 2, torch.Generator().manual_seed(3))
    expected = torch.zeros_like(x)
    src = x[..., max(0, dy) : 6 + min(0, dy), max(0, dx) : 6 + min(0, dx)]
    expected[..., max(0, -dy) : 6 + min(0, -dy), max(0, -dx) : 6 + min(0, -dx)] = src
    assert torch.equal(out, expected)


def test_hflip_draws_per_image():
    x = images(400)
    out = random_hflip(x, 0.5, torch.Generator().manual_seed(0))
    flipped = (out == x.flip(-1)).flatten(1).all(1)
    kept = (out == x).flatten(1).all(1)
    assert (flipped | kept).all()
    assert 150 < int(flipped.sum()) < 250  # one draw per image, not one per batch


def test_erasing_zeroes_one_rectangle_in_about_p_of_the_images():
    x = torch.ones(1000, 1, 16, 16)
    out = random_erasing(x, p=0.25, generator=torch.Generator().manual_seed(0))
    erased = (out == 0).flatten(1).any(1)
    assert 200 < int(erased.sum()) < 300
    zeros = (out[erased.nonzero()[0, 0], 0] == 0).nonzero()
    r, c = zeros[:, 0], zeros[:, 1]
    # a full rectangle: every pixel between the extremes is zero
    assert len(zeros) == (r.max() - r.min() + 1) * (c.max() - c.min() + 1)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: random_shift(images(), -1), "max_shift must be >= 0; got -1"),
        (lambda: random_hflip(images(), 1.5), r"p must be in \[0, 1\]; got 1.5"),
        (lambda: random_erasing(images(), 2.0), r"p must be in \[0, 1\]; got 2.0"),
    ],
)
def test_bad_augmentation_arguments(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_view_bank_is_fixed_seeded_and_keeps_labels():
    split = Split(images(10), torch.arange(10))
    augment = Augmentation(shift=2, hflip=True)
    bank = view_bank(split, 3, augment, seed=1)
    again = view_bank(split, 3, augment, seed=1)
    assert torch.equal(bank.x, again.x)
    assert len(bank) == 30 and torch.equal(bank.y, torch.arange(10).repeat(3))
    assert not torch.equal(bank.x[:10], bank.x[10:20])  # each copy its own draw
    assert Augmentation(shift=2, hflip=True).describe() == (
        "shifts of up to 2 px, horizontal flips"
    )
    with pytest.raises(ValueError, match="views must be >= 1; got 0"):
        view_bank(split, 0, augment)


def test_a_bank_of_views_trains_with_cached_teacher_logits(digits):
    from kdutils.cache import TeacherCache
    from kdutils.losses import kd_objective
    from kdutils.models import mlp
    from kdutils.train import fit
    from tests.conftest import train_small

    teacher, _ = train_small(digits, 3)
    bank = view_bank(digits.train, 2, Augmentation(shift=1), seed=0)
    cache = TeacherCache(teacher, bank.x)
    n = len(digits.train)
    with torch.no_grad():  # the cache labels each view, not the clean image
        assert torch.allclose(cache.logits[n:], teacher(bank.x[n:]), atol=1e-5)
        assert not torch.allclose(cache.logits[n:], teacher(digits.train.x), atol=1e-3)
    history = fit(
        mlp(64, [16], 10),
        bank,
        digits.val,
        epochs=1,
        lr=1e-2,
        objective=kd_objective(0.5, 4.0),
        teacher=cache,
        progress=False,
    )
    assert history.epochs[-1]["val_accuracy"] > 0.5


def test_mixup_blends_each_image_with_another_of_the_batch():
    x = torch.stack([torch.full((1, 4, 4), float(i)) for i in range(16)])
    g = torch.Generator().manual_seed(0)
    mixed = Mixup()(x, g)
    assert mixed.shape == x.shape
    # every image is a constant w * i + (1 - w) * j: between two of the batch's values
    assert torch.all(mixed.amax(dim=(1, 2, 3)) == mixed.amin(dim=(1, 2, 3)))
    assert mixed.min() >= 0 and mixed.max() <= 15
    assert not torch.equal(mixed, x)
    again = Mixup()(x, torch.Generator().manual_seed(0))
    assert torch.equal(mixed, again)  # seeded: a bank of mixed views is reproducible
