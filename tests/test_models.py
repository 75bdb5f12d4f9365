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
