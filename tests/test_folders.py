"""Image folders streamed from disk: split folders, held-out validation, mode, size, normalisation."""

import numpy as np
import pytest
import torch
from PIL import Image

from kdbook.demo import write_image_folder
from kdutils.data import DataNotFoundError, Split
from kdutils.folders import image_folder_datasets


def _folder(root, splits=("train", "test"), classes=("ant", "bee"), n=10, size=12):
    for split in splits:
        for label, name in enumerate(classes):
            (root / split / name).mkdir(parents=True)
            for i in range(n):
                value = 40 + 150 * label  # dark ants, bright bees
                Image.new("RGB", (size, size + 4), (value, value, i)).save(
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
    assert (len(data.train), len(data.val), data.test) == (20, 20, None)


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
        ({"image_size": 4}, ValueError, "image_size must be >= 8"),
        ({"mean": [0.5]}, ValueError, "give both mean and std"),
        ({"val_fraction": 1.0}, ValueError, r"val_fraction must be in \(0, 1\)"),
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
        tmp_path, image_size=10, image_mode="L", val_fraction=0.5
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
