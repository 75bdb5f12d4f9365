"""Image folders, streamed or in memory: split folders, one rule for classes, held-out splits,
sizes, unreadable files, mode and normalisation."""

import numpy as np
import pytest
import torch
from PIL import Image

from kdbook.demo import write_image_folder
from kdutils.data import DataNotFoundError, Split, load_splits
from kdutils.folders import image_folder_datasets


def _folder(root, splits=("train", "test"), classes=("ant", "bee"), n=10, size=12):
    for split in splits:
        for label, name in enumerate(classes):
            (root / split / name).mkdir(parents=True)
            for i in range(n):
                value = 40 + 150 * label  # dark ants, bright bees
                Image.new("RGB", (size, size), (value, value, i)).save(
                    root / split / name / f"{i}.png"
                )
    return root


def test_train_and_test_folders_are_splits_and_val_is_held_out_of_train(tmp_path):
    data = image_folder_datasets(_folder(tmp_path), image_size=8, seed=0)
    assert data.classes == ["ant", "bee"]
    assert (len(data.train), len(data.val), len(data.test)) == (18, 2, 20)
    x, y = data.train[0]
    assert x.shape == (3, 8, 8) and x.dtype == torch.float32 and 0 <= x.min() <= 1
    assert sorted(int(data.val[i][1]) for i in range(len(data.val))) == [0, 1]
    again = image_folder_datasets(tmp_path, image_size=8, seed=0)
    assert data.val.indices == again.val.indices  # seeded
    assert not set(data.val.indices) & set(data.train.indices)


def test_a_val_folder_is_used_as_it_is(tmp_path):
    data = image_folder_datasets(
        _folder(tmp_path, ("Train", "validation")), image_size=8
    )
    assert (len(data.train), len(data.val), len(data.test)) == (16, 20, 4)
    none = image_folder_datasets(tmp_path, image_size=8, test_fraction=0)
    assert (len(none.train), len(none.val), none.test) == (20, 20, None)
    in_memory = load_splits("imagefolder", path=tmp_path, image_size=8)
    assert (len(in_memory.train), len(in_memory.val)) == (16, 20)


def test_mode_size_and_normalisation(tmp_path):
    _folder(tmp_path)
    grey = image_folder_datasets(tmp_path, image_mode="L", image_size=16)
    x, y = grey.test[0]
    assert x.shape == (1, 16, 16)
    plain = image_folder_datasets(tmp_path, image_size=8).test[0][0]
    normed = image_folder_datasets(
        tmp_path, image_size=8, mean=[0.5] * 3, std=[0.25] * 3
    ).test[0][0]
    torch.testing.assert_close(normed, (plain - 0.5) / 0.25)


def test_a_random_train_transform_draws_per_image_and_spares_validation(tmp_path):
    from torchvision.transforms import v2

    _folder(tmp_path)
    data = image_folder_datasets(
        tmp_path, image_size=8, train_transform=v2.RandomHorizontalFlip(p=1.0)
    )
    plain = image_folder_datasets(tmp_path, image_size=8)
    index = data.train.indices[0]
    torch.testing.assert_close(
        data.train.dataset[index][0], plain.train.dataset[index][0].flip(-1)
    )
    torch.testing.assert_close(data.val[0][0], plain.val[0][0])


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"image_mode": "CMYK"}, ValueError, "image_mode must be one of"),
        ({"image_size": 0}, ValueError, "image_size must be None or >= 1"),
        ({"mean": [0.5]}, ValueError, "give both mean and std"),
        ({"val_fraction": 1.0}, ValueError, r"val_fraction must be in \(0, 1\)"),
        ({"test_fraction": -0.1}, ValueError, r"test_fraction in \[0, 1\)"),
    ],
)
def test_bad_arguments_are_named(tmp_path, kwargs, error, message):
    _folder(tmp_path)
    with pytest.raises(error, match=message):
        image_folder_datasets(tmp_path, **kwargs)


def test_missing_folders_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        image_folder_datasets(tmp_path / "nowhere")
    _folder(tmp_path / "classes")
    with pytest.raises(FileNotFoundError, match=r"has no train/ folder"):
        image_folder_datasets(tmp_path / "classes" / "train")  # class folders only
    _folder(tmp_path / "no-train", ("test",))
    with pytest.raises(
        DataNotFoundError, match=r"mixes split folders .*or has no train/"
    ):
        image_folder_datasets(tmp_path / "no-train")


def test_written_folder_reads_back_the_same_images_and_labels(tmp_path):
    g = torch.Generator().manual_seed(0)
    x = (torch.rand(6, 1, 10, 10, generator=g) * 255).round() / 255
    y = torch.tensor([0, 1, 2, 0, 1, 2])
    classes = ["0-a", "1-b", "2-c"]
    write_image_folder(Split(x, y), tmp_path / "train", classes)
    data = image_folder_datasets(
        tmp_path, image_size=10, image_mode="L", val_fraction=0.5, test_fraction=0
    )
    assert data.classes == classes
    images = {
        tuple(
            np.round(data.train.dataset[i][0].numpy().ravel(), 4)
        ): data.train.dataset[i][1]
        for i in range(6)
    }
    for image, label in zip(x, y):
        assert images[tuple(np.round(image.numpy().ravel(), 4))] == label
    with pytest.raises(ValueError, match="without path separators"):
        write_image_folder(Split(x, y), tmp_path / "bad", ["T-shirt/top", "b", "c"])


def _both(root, **kwargs):
    """The folder read by both readers: streamed datasets, and splits in memory."""
    return image_folder_datasets(root, **kwargs), load_splits(
        "imagefolder",
        path=root,
        image_size=kwargs.get("image_size"),
        image_mode=kwargs.get("image_mode", "RGB"),
    )


def test_one_rule_for_classes_hidden_folders_and_files_are_skipped(tmp_path):
    _folder(tmp_path)
    for split in ("train", "test"):  # what Jupyter and macOS leave behind
        (tmp_path / split / ".ipynb_checkpoints").mkdir()
        Image.new("RGB", (12, 12)).save(tmp_path / split / "ant" / "._0.png")
    (tmp_path / ".ipynb_checkpoints").mkdir()
    streamed, in_memory = _both(tmp_path)
    assert streamed.classes == in_memory.classes == ["ant", "bee"]
    assert len(streamed.test) == len(in_memory.test) == 20  # no ._0.png


def test_one_rule_for_classes_an_empty_class_folder_is_refused(tmp_path):
    _folder(tmp_path)
    (tmp_path / "train" / "cat").mkdir()  # sorts between ant and bee: would shift bee
    for read in (
        lambda: image_folder_datasets(tmp_path),
        lambda: load_splits("imagefolder", path=tmp_path),
    ):
        with pytest.raises(DataNotFoundError, match=r"\['cat'\] .* hold no images"):
            read()


def test_images_keep_their_size_unless_asked_and_sizes_must_agree(tmp_path):
    _folder(tmp_path, size=28)
    streamed, in_memory = _both(tmp_path)  # 28 px stays 28 px: no silent upscaling
    assert streamed.train[0][0].shape == in_memory.train.x.shape[1:] == (3, 28, 28)
    odd = tmp_path / "train" / "bee" / "9.png"
    Image.new("RGB", (30, 28)).save(odd)
    with pytest.raises(ValueError, match=r"9.png is 30 x 28 px, the first one read 28"):
        load_splits("imagefolder", path=tmp_path)
    streamed = image_folder_datasets(tmp_path, test_fraction=0)
    with pytest.raises(ValueError, match=r"give image_size=N to resize every image"):
        [streamed.train.dataset[i] for i in range(len(streamed.train.dataset))]
    with pytest.warns(
        UserWarning, match=r"9.png is 30 x 28 px, not square: image_size"
    ):
        image_folder_datasets(tmp_path, image_size=16).train.dataset[19]


def test_an_unreadable_image_is_named(tmp_path):
    _folder(tmp_path)
    bad = tmp_path / "train" / "bee" / "3.png"
    bad.write_bytes(bad.read_bytes()[:45])  # truncated
    with pytest.raises(
        ValueError, match=r"cannot read the image .*bee/3.png .*truncated"
    ):
        load_splits("imagefolder", path=tmp_path)
    streamed = image_folder_datasets(tmp_path)
    index = streamed.train.dataset.samples.index((str(bad), 1))
    with pytest.raises(ValueError, match=r"cannot read the image .*bee/3.png"):
        streamed.train.dataset[index]


def test_too_few_images_in_a_class_names_the_class_and_the_fix(tmp_path):
    _folder(tmp_path, ("train",))
    for i in range(1, 10):
        (tmp_path / "train" / "bee" / f"{i}.png").unlink()
    for read in (
        lambda: image_folder_datasets(tmp_path),
        lambda: load_splits("imagefolder", path=tmp_path),
    ):
        with pytest.raises(
            ValueError, match=r"the smallest class, 'bee', has 1\. Add images, give"
        ):
            read()


def test_test_fraction_zero_needs_a_test_folder(tmp_path):
    _folder(tmp_path)
    splits = load_splits("imagefolder", path=tmp_path, test_fraction=0)
    assert len(splits.test) == 20
    _folder(tmp_path / "no-test", ("train",))
    with pytest.raises(ValueError, match=r"test_fraction=0 needs a test split"):
        load_splits("imagefolder", path=tmp_path / "no-test", test_fraction=0)


def test_both_readers_hold_out_the_same_images_and_train_the_same_numbers(tmp_path):
    import kdutils
    from kdutils.models import mlp

    _folder(tmp_path, ("train",), n=15, size=8)  # no test/: both hold one out
    streamed, in_memory = _both(tmp_path, image_mode="L")

    def stacked(dataset):
        return torch.stack([dataset[i][0] for i in range(len(dataset))])

    for name in ("train", "val", "test"):
        torch.testing.assert_close(
            stacked(getattr(streamed, name)), getattr(in_memory, name).x
        )
    histories = []
    for data in (in_memory, streamed):
        torch.manual_seed(0)
        model = mlp(64, [8], 2)
        settings = dict(epochs=3, lr=1e-2, batch_size=4, progress=False)
        histories.append(kdutils.fit(model, data.train, data.val, **settings).epochs)
    for a, b in zip(*histories):
        assert (
            a["train_loss"] == b["train_loss"]
            and a["val_accuracy"] == b["val_accuracy"]
        )
