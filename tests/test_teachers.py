"""The teacher registry: every recipe builds, trains once, is cached, and loads back the same."""

import pytest
import torch

from kdbook import teachers
from kdbook.profiles import get_profile
from kdutils.data import RawData, Split, Splits


def tiny_images(n: int = 40) -> Splits:
    """28 px one-channel images whose class lights up one row: learnable in a few steps."""
    g = torch.Generator().manual_seed(0)

    def split(count: int) -> Split:
        y = torch.arange(count) % 4
        x = torch.rand(count, 1, 28, 28, generator=g) * 0.2
        x[torch.arange(count), 0, y * 7] = 1.0
        return Split(x, y)

    return Splits(
        "tiny", split(n), split(12), split(12), ["a", "b", "c", "d"], "generated"
    )


@pytest.mark.parametrize("name", sorted(teachers.TEACHERS))
def test_every_teacher_trains_once_and_loads_back(name, tmp_path, monkeypatch):
    monkeypatch.setenv("KD_CHECKPOINTS", str(tmp_path))
    monkeypatch.setitem(teachers.TEACHERS[name].epochs, "smoke", 1)
    smoke, splits = get_profile("smoke"), tiny_images()
    model, extra, loaded = teachers.get_teacher(name, smoke, splits, progress=False)
    assert not loaded and len(extra["history"]["epochs"]) == 1
    again, _, loaded = teachers.get_teacher(name, smoke, splits, progress=False)
    assert loaded
    model.eval(), again.eval()
    x = splits.test.x
    with (
        torch.no_grad()
    ):  # bit for bit: a fresh teacher and a cached one give the same numbers
        assert torch.equal(again(x), model(x))
    config = teachers.teacher_config(name, smoke, splits)
    assert config["teacher"] == name and config["arch"] and config["epochs"] == 1
    assert not list(tmp_path.glob("*.training"))  # the marker goes when training ends


def test_teachers_train_with_their_sources_augmentation_to_the_last_epoch():
    smoke, splits = get_profile("smoke"), tiny_images()
    assert teachers.teacher_config("mnist-cnn", smoke, splits)["augment"] == {
        "shift": 2
    }
    for name in ("fashion-cnn", "fashion-vit-full"):
        config = teachers.teacher_config(name, smoke, splits)
        assert config["augment"] == {"shift": 2, "hflip": True}
        assert config["schedule"] == "cosine"


def test_unknown_teacher_names_the_known_ones():
    with pytest.raises(
        ValueError, match=r"unknown teacher 'resnet'; choose one of \['fashion-cnn'"
    ):
        teachers.teacher_config("resnet", get_profile("smoke"), tiny_images())


def as_bytes(split: Split) -> torch.Tensor:
    return split.x.mul(255).round().to(torch.uint8)


def test_the_full_data_teacher_trains_on_every_image_but_validation_and_test(
    monkeypatch,
):
    splits = tiny_images()
    splits.train.x = as_bytes(splits.train).float() / 255  # pixels a source could hold
    for split in (splits.val, splits.test):
        split.x = as_bytes(split).float() / 255
    unseen = tiny_images(8).train  # images the splits left out of their per-class share
    unseen.x = torch.flip(as_bytes(unseen), dims=[-1]).float() / 255
    pool = [splits.train, splits.val, unseen, splits.test]
    raw = RawData(
        torch.cat([as_bytes(s) for s in pool]),
        torch.cat([s.y for s in pool]),
        splits.classes,
        "generated",
    )
    monkeypatch.setattr(teachers, "resolve_dataset", lambda name: raw)
    images = teachers.all_training_images(splits)
    assert len(images) == len(splits.train) + len(unseen)
    assert torch.equal(images.x, torch.cat([splits.train.x, unseen.x]))
    assert torch.equal(images.y, torch.cat([splits.train.y, unseen.y]))
    cpu, smoke = get_profile("cpu"), get_profile("smoke")
    config = teachers.teacher_config("fashion-vit-full", cpu, splits)
    assert config["train_images"] == {"all but validation and test": len(images)}
    assert config["arch"] == teachers.VIT_TEACHER
    # under smoke it trains on the splits' few training images, as the other teachers do
    assert "train_images" not in teachers.teacher_config(
        "fashion-vit-full", smoke, splits
    )
    monkeypatch.setattr(
        teachers,
        "resolve_dataset",
        lambda name: RawData(**{**vars(raw), "source": "x"}),
    )
    with pytest.raises(ValueError, match="were read from 'generated'.*resolves to 'x'"):
        teachers.all_training_images(splits)
