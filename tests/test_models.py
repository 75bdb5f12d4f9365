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
    from kdutils.models import SHORT_MOBILENET_V2, mobilenet_v2_small_images

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
