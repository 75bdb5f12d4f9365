"""Model factories: the small MLPs of Hinton's MNIST experiments (library models come from torchvision/timm)."""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn


def mlp(in_features: int, hidden: Sequence[int], num_classes: int, dropout: float = 0.0) -> nn.Sequential:
    """A ReLU MLP ``in -> hidden... -> classes`` on flattened images, with dropout after each hidden layer."""
    if in_features < 1 or num_classes < 2 or any(h < 1 for h in hidden):
        raise ValueError(f"mlp needs in_features >= 1, hidden sizes >= 1 and num_classes >= 2; "
                         f"got {in_features}, {list(hidden)}, {num_classes}")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1); got {dropout!r}")
    layers: list[nn.Module] = [nn.Flatten()]
    width = in_features
    for h in hidden:
        layers += [nn.Linear(width, h), nn.ReLU()]
        if dropout:
            layers.append(nn.Dropout(dropout))
        width = h
    layers.append(nn.Linear(width, num_classes))
    return nn.Sequential(*layers)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
