"""Model factories: Hinton's MNIST MLPs, torchvision's MobileNetV2 for small images, any torchvision classifier for new classes and channels, saved classifiers."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn


def mlp(
    in_features: int, hidden: Sequence[int], num_classes: int, dropout: float = 0.0
) -> nn.Sequential:
    """A ReLU MLP ``in -> hidden... -> classes`` on flattened images, with dropout after each hidden layer."""
    if in_features < 1 or num_classes < 2 or any(h < 1 for h in hidden):
        raise ValueError(
            f"mlp needs in_features >= 1, hidden sizes >= 1 and num_classes >= 2; "
            f"got {in_features}, {list(hidden)}, {num_classes}"
        )
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


def mobilenet_v2_small_images(
    num_classes: int,
    in_chans: int = 1,
    width_mult: float = 0.5,
    stages: list[list[int]] | None = None,
    last_channel: int | None = None,
) -> nn.Module:
    """torchvision's MobileNetV2 (random init) adapted to 28-32 px images.

    The stem takes ``in_chans`` channels, and the last downsampling stage keeps stride 1: the
    standard network shrinks its input 32x (224 px -> a 7x7 map), which would leave a 28 px image as
    a single pixel before the last blocks; one halving fewer leaves a 2x2 map. ``stages`` replaces
    torchvision's inverted-residual setting (rows ``[t, c, n, s]``) and ``last_channel`` its final
    1x1 convolution's width (1280)."""
    from torchvision.models import mobilenet_v2
    from torchvision.ops.misc import Conv2dNormActivation

    model = mobilenet_v2(
        num_classes=num_classes, width_mult=width_mult, inverted_residual_setting=stages
    )
    stem = model.features[0][0]
    model.features[0][0] = nn.Conv2d(in_chans, stem.out_channels, 3, 2, 1, bias=False)
    if last_channel is not None:
        width = model.features[-1][0].in_channels
        relu6 = {"activation_layer": nn.ReLU6}
        model.features[-1] = Conv2dNormActivation(width, last_channel, 1, **relu6)
        model.classifier[-1] = nn.Linear(last_channel, num_classes)
    last = [block for block in model.features[1:-1] if block.stride == 2][-1]
    depthwise = [
        m for m in last.conv.modules() if isinstance(m, nn.Conv2d) and m.groups > 1
    ]
    depthwise[0].stride, last.stride = (1, 1), 1
    return model


def _replace_module(model: nn.Module, name: str, new: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    setattr(model.get_submodule(parent_name) if parent_name else model, child, new)


def torchvision_classifier(
    name: str,
    num_classes: int,
    in_chans: int = 3,
    weights: str | None = None,
    **kwargs: object,
) -> nn.Module:
    """Any torchvision classification model by name (``torchvision.models.get_model``) for
    ``num_classes`` classes and ``in_chans`` input channels.

    ``weights`` (e.g. ``"DEFAULT"``, downloaded when online) loads pretrained weights and then
    replaces the last linear layer; a first convolution for other than 3 channels starts from the
    pretrained filters averaged over colour. ``kwargs`` go to the model (e.g. ``width_mult``)."""
    from torchvision.models import get_model, list_models

    if name not in list_models():
        raise ValueError(
            f"unknown torchvision model {name!r}; choose one of "
            "torchvision.models.list_models(), e.g. 'resnet18' or 'mobilenet_v2'"
        )
    if num_classes < 2 or in_chans < 1:
        raise ValueError(
            f"num_classes must be >= 2 and in_chans >= 1; got {num_classes}, {in_chans}"
        )
    if weights is None:
        model = get_model(name, weights=None, num_classes=num_classes, **kwargs)
    else:
        model = get_model(name, weights=weights, **kwargs)
        last = [n for n, m in model.named_modules() if isinstance(m, nn.Linear)][-1]
        old = model.get_submodule(last)
        _replace_module(model, last, nn.Linear(old.in_features, num_classes))
    if in_chans != 3:
        convs = ((n, m) for n, m in model.named_modules() if isinstance(m, nn.Conv2d))
        first, conv = next(convs)
        shape = (
            conv.kernel_size,
            conv.stride,
            conv.padding,
            conv.dilation,
            conv.groups,
        )
        new = nn.Conv2d(in_chans, conv.out_channels, *shape, conv.bias is not None)
        if weights is not None:  # the pretrained filters, averaged over colour
            with torch.no_grad():
                new.weight.copy_(
                    conv.weight.mean(1, keepdim=True).expand_as(new.weight)
                )
        _replace_module(model, first, new)
    return model


def load_classifier(
    path: str | Path,
    arch: str | None = None,
    num_classes: int | None = None,
    in_chans: int = 3,
    trusted: bool = False,
    **arch_kwargs: object,
) -> nn.Module:
    """A classifier from a file: a ``state_dict`` (or ``{"state_dict": ...}``/``{"model": ...}``)
    for the torchvision architecture ``arch`` (built with ``arch_kwargs``, e.g. ``width_mult``, as
    it was when trained), or, with ``trusted=True``, a whole model saved with ``torch.save(model,
    path)`` (unpickling runs code from the file: only for files you made). Returned in eval mode, on
    the CPU."""
    import pickle

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"model file {str(path)!r} does not exist")
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        if not trusted:
            raise ValueError(
                f"{path} holds a pickled model, which runs code when loaded: pass "
                "trusted=True if you made it, or save its state_dict and give arch="
            ) from None
        loaded = torch.load(path, map_location="cpu", weights_only=False)
    if isinstance(loaded, nn.Module):
        return loaded.eval()
    if isinstance(loaded, dict):
        state = loaded.get("state_dict", loaded.get("model", loaded))
        if arch is None or num_classes is None:
            raise ValueError(
                f"{path} holds weights only (a state_dict): say which model they are for, "
                "e.g. arch='resnet18', num_classes=10"
            )
        model = torchvision_classifier(arch, num_classes, in_chans, **arch_kwargs)
        try:
            model.load_state_dict(state)
        except RuntimeError as err:
            first = str(err).strip().splitlines()[-1].strip()
            raise ValueError(
                f"the weights in {path} do not fit {arch} built with "
                f"num_classes={num_classes}, in_chans={in_chans}, {arch_kwargs or 'defaults'} "
                f"({first}); give the arguments it was built with (e.g. width_mult=0.35)"
            ) from None
        return model.eval()
    raise TypeError(
        f"{path} holds a {type(loaded).__name__}; expected a state_dict or an nn.Module"
    )
