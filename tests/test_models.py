"""Model factories: shapes and errors."""

import pytest
import torch

from kdutils.models import count_parameters, mlp


def test_mlp_shapes_and_errors():
    model = mlp(784, [1200, 1200], 10, dropout=0.5)
    assert model(torch.zeros(2, 1, 28, 28)).shape == (2, 10)
    assert (
        count_parameters(model)
        == 784 * 1200 + 1200 + 1200 * 1200 + 1200 + 1200 * 10 + 10
    )
    with pytest.raises(ValueError, match="dropout must be in"):
        mlp(784, [10], 10, dropout=1.0)


def test_short_mobilenet_v2_for_small_images():
    from kdbook.fashion import SHORT_MOBILENET_V2
    from kdutils.models import mobilenet_v2_small_images

    full = mobilenet_v2_small_images(10, 1, 0.35)
    short = mobilenet_v2_small_images(
        10, 1, 0.35, stages=SHORT_MOBILENET_V2, last_channel=512
    )
    x = torch.zeros(2, 1, 28, 28)
    assert full(x).shape == short(x).shape == (2, 10)
    assert count_parameters(short) < count_parameters(full) / 4
    # the stride-1 last downsampling stage keeps a 4x4 map at the end of the short network
    assert short.features(x).shape[-2:] == (4, 4)
    assert short.classifier[-1].in_features == 512


def test_torchvision_classifier_fits_classes_and_channels():
    from kdutils.models import torchvision_classifier

    model = torchvision_classifier("mobilenet_v2", 4, in_chans=1, width_mult=0.35)
    assert model(torch.zeros(2, 1, 32, 32)).shape == (2, 4)
    assert torchvision_classifier("resnet18", 3)(torch.zeros(2, 3, 32, 32)).shape == (
        2,
        3,
    )
    with pytest.raises(ValueError, match="unknown torchvision model 'resnet-18'"):
        torchvision_classifier("resnet-18", 3)
    with pytest.raises(ValueError, match="num_classes must be >= 2"):
        torchvision_classifier("resnet18", 1)


def test_pretrained_weights_get_a_new_head_and_an_averaged_first_convolution(
    monkeypatch,
):
    import torchvision

    from kdutils.models import torchvision_classifier

    # offline: stand in for the download with a random 1000-class network
    real = torchvision.models.get_model

    def fake_get_model(name, weights=None, **kwargs):
        torch.manual_seed(0)
        return real(name, weights=None, **kwargs)

    monkeypatch.setattr(torchvision.models, "get_model", fake_get_model)
    pretrained = fake_get_model("resnet18")
    model = torchvision_classifier("resnet18", 5, in_chans=1, weights="DEFAULT")
    assert model.fc.out_features == 5
    torch.testing.assert_close(
        model.conv1.weight, pretrained.conv1.weight.mean(1, keepdim=True)
    )
    torch.testing.assert_close(
        model.layer1[0].conv1.weight, pretrained.layer1[0].conv1.weight
    )


def test_load_classifier_from_a_state_dict_or_a_trusted_whole_model(tmp_path):
    from kdutils.models import load_classifier, torchvision_classifier

    torch.manual_seed(0)
    model = torchvision_classifier(
        "mobilenet_v2", 3, in_chans=1, width_mult=0.35
    ).eval()
    x = torch.rand(2, 1, 32, 32)
    torch.save(model.state_dict(), tmp_path / "weights.pt")
    torch.save({"state_dict": model.state_dict()}, tmp_path / "wrapped.pt")
    torch.save(model, tmp_path / "whole.pt")
    for name in ("weights.pt", "wrapped.pt"):
        loaded = load_classifier(
            tmp_path / name,
            arch="mobilenet_v2",
            num_classes=3,
            in_chans=1,
            width_mult=0.35,
        )
        torch.testing.assert_close(loaded(x), model(x))
    with pytest.raises(ValueError, match=r"do not fit mobilenet_v2.*width_mult"):
        load_classifier(
            tmp_path / "weights.pt", arch="mobilenet_v2", num_classes=3, in_chans=1
        )
    with pytest.raises(ValueError, match="weights only .*arch='resnet18'"):
        load_classifier(tmp_path / "weights.pt")
    with pytest.raises(
        ValueError, match="pickled model, which runs code.*trusted=True"
    ):
        load_classifier(tmp_path / "whole.pt")
    torch.testing.assert_close(
        load_classifier(tmp_path / "whole.pt", trusted=True)(x), model(x)
    )
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_classifier(tmp_path / "missing.pt")
