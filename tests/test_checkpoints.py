"""Checkpoints: atomic writes, config keys, mismatches, the shared-teacher lock."""

import time

import pytest
import torch
from torch import nn

from kdutils import checkpoints
from kdutils.models import mlp


def test_checkpoint_round_trip_and_mismatch(tmp_path):
    model, config = mlp(4, [3], 2), {"hidden": [3], "lr": 0.1}
    path = checkpoints.save_checkpoint(tmp_path / "m.pt", model, config, {"note": "x"})
    fresh = mlp(4, [3], 2)
    assert checkpoints.load_checkpoint(path, fresh, config) == {"note": "x"}
    assert all(
        torch.equal(a, b)
        for a, b in zip(model.state_dict().values(), fresh.state_dict().values())
    )
    with pytest.raises(
        checkpoints.CheckpointMismatchError, match="was saved for config .* not for"
    ):
        checkpoints.load_checkpoint(path, fresh, {"hidden": [3], "lr": 0.2})


def test_interrupted_checkpoint_write_leaves_the_old_file(tmp_path, monkeypatch):
    model, config = mlp(4, [3], 2), {"v": 1}
    path = checkpoints.save_checkpoint(tmp_path / "m.pt", model, config)
    before = path.read_bytes()

    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", crash)
    with pytest.raises(KeyboardInterrupt):
        checkpoints.save_checkpoint(path, mlp(4, [3], 2), {"v": 2})
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.pt"]  # no temp file left behind


def test_cached_model_trains_once(tmp_path, monkeypatch):
    monkeypatch.setenv("KD_CHECKPOINTS", str(tmp_path))
    calls = []

    def train(model):
        calls.append(1)
        nn.init.constant_(model[1].weight, 0.5)
        return {"trained": True}

    build = lambda: mlp(4, [3], 2)  # noqa: E731
    m1, extra1, loaded1 = checkpoints.cached_model("t", {"a": 1}, build, train)
    m2, extra2, loaded2 = checkpoints.cached_model("t", {"a": 1}, build, train)
    assert (loaded1, loaded2, len(calls)) == (False, True, 1)
    assert torch.equal(m2[1].weight, torch.full((3, 4), 0.5)) and extra2 == {
        "trained": True
    }
    checkpoints.cached_model("t", {"a": 2}, build, train)
    assert len(calls) == 2
    assert checkpoints.checkpoint_path("t", {"a": 2}).is_file()


def test_cached_model_in_a_folder_given_as_an_argument(tmp_path, monkeypatch):
    monkeypatch.setenv("KD_CHECKPOINTS", str(tmp_path / "env"))
    build = lambda: mlp(4, [3], 2)  # noqa: E731
    _, _, loaded = checkpoints.cached_model(
        "t", {"a": 1}, build, lambda m: {}, folder=tmp_path / "given"
    )
    assert not loaded and not (tmp_path / "env").exists()
    assert checkpoints.checkpoint_path("t", {"a": 1}, tmp_path / "given").is_file()


def _slow_teacher(log_path):
    def train(model):
        with open(log_path, "a") as log:
            log.write("trained\n")
        # long enough for the other process to ask for the same teacher meanwhile
        time.sleep(1.0)
        nn.init.constant_(model[1].weight, 0.25)
        return {}

    model, _, loaded = checkpoints.cached_model(
        "shared", {"a": 1}, lambda: mlp(4, [3], 2), train
    )
    return loaded, model[1].weight.sum().item()


def test_notebooks_side_by_side_train_a_shared_teacher_once(tmp_path, monkeypatch):
    import multiprocessing

    monkeypatch.setenv("KD_CHECKPOINTS", str(tmp_path / "ckpt"))
    with multiprocessing.get_context("fork").Pool(2) as pool:
        results = pool.map(_slow_teacher, [tmp_path / "log"] * 2)
    assert (tmp_path / "log").read_text() == "trained\n"
    assert sorted(loaded for loaded, _ in results) == [False, True]
    assert [weight for _, weight in results] == [0.25 * 12] * 2


def test_unreadable_files_are_named_and_a_cached_teacher_is_retrained(
    tmp_path, monkeypatch
):
    model, config = mlp(4, [3], 2), {"v": 1}
    plain = tmp_path / "plain.pt"
    torch.save(model.state_dict(), plain)
    with pytest.raises(
        checkpoints.UnreadableCheckpointError,
        match=r"plain.pt is not a kdutils checkpoint",
    ):
        checkpoints.load_checkpoint(plain, model, config)
    broken = tmp_path / "broken.pt"
    broken.write_bytes(b"not a zip, not a pickle")
    with pytest.raises(
        checkpoints.UnreadableCheckpointError, match=r"broken.pt cannot be read"
    ):
        checkpoints.load_checkpoint(broken, model, config)

    monkeypatch.setenv("KD_CHECKPOINTS", str(tmp_path / "cache"))
    calls = []

    def train(m):
        calls.append(1)
        return {"trained": True}

    def build():
        return mlp(4, [3], 2)

    checkpoints.cached_model("t", config, build, train)
    (path,) = (tmp_path / "cache").glob("t-*.pt")
    path.write_bytes(path.read_bytes()[:50])  # a truncated file, as after a crash
    with pytest.warns(UserWarning, match=r"cannot be read.*moved it to .*unreadable"):
        _, extra, loaded = checkpoints.cached_model("t", config, build, train)
    assert not loaded and extra == {"trained": True} and len(calls) == 2
    assert list((tmp_path / "cache").glob("t-*.pt.unreadable-*"))
    assert checkpoints.cached_model("t", config, build, train)[2]  # the new one loads


def test_a_cached_teacher_is_retrained_after_an_image_of_its_folder_changes(tmp_path):
    """The cache key holds a fingerprint of the data: the same folder is served from the
    cache, a folder with one image changed trains the teacher again."""
    from PIL import Image

    from kdutils.folders import image_folder_datasets

    for label, name in enumerate(("ant", "bee")):
        (tmp_path / "images" / "train" / name).mkdir(parents=True)
        for i in range(10):
            Image.new("L", (8, 8), 40 + 150 * label + i).save(
                tmp_path / "images" / "train" / name / f"{i}.png"
            )
    trained = []

    def teacher():
        data = image_folder_datasets(tmp_path / "images", image_mode="L")
        return checkpoints.cached_model(
            "teacher",
            {"arch": "mlp"},
            lambda: mlp(64, [4], 2),
            lambda model: trained.append(1) or {},
            folder=tmp_path / "cache",
            data=data,
        )[2]

    assert [teacher(), teacher()] == [False, True]
    Image.new("L", (8, 8), 255).save(tmp_path / "images" / "train" / "bee" / "3.png")
    assert teacher() is False and len(trained) == 2
    assert teacher() is True


def test_data_fingerprints_see_every_image_and_label():
    from kdutils.data import Split

    x, y = torch.rand(6, 1, 4, 4), torch.tensor([0, 1, 0, 1, 0, 1])
    same = checkpoints.data_fingerprint(Split(x.clone(), y.clone()))
    assert checkpoints.data_fingerprint(Split(x, y)) == same
    for other in (Split(x, 1 - y), Split(x.index_fill(0, torch.tensor([2]), 0.5), y)):
        assert checkpoints.data_fingerprint(other) != same
    with pytest.raises(TypeError, match="cannot fingerprint a object as data"):
        checkpoints.data_fingerprint(object())
