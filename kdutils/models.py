"""Model factories: the small MLPs of Hinton's MNIST experiments (library models come from torchvision/timm)."""

from __future__ import annotations

from collections.abc import Sequence

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


def vit_small_images(
    img_size: int,
    in_chans: int,
    num_classes: int,
    embed_dim: int = 64,
    depth: int = 4,
    num_heads: int = 4,
    patch_size: int = 4,
    distilled: bool = False,
) -> nn.Module:
    """A small timm Vision Transformer (or DeiT-style ``VisionTransformerDistilled``) for small images."""
    from timm.models.deit import VisionTransformerDistilled
    from timm.models.vision_transformer import VisionTransformer

    if img_size % patch_size:
        raise ValueError(
            f"img_size {img_size} must be a multiple of patch_size {patch_size}"
        )
    cls = VisionTransformerDistilled if distilled else VisionTransformer
    return cls(
        img_size=img_size,
        patch_size=patch_size,
        in_chans=in_chans,
        num_classes=num_classes,
        embed_dim=embed_dim,
        depth=depth,
        num_heads=num_heads,
        mlp_ratio=2.0,
    )


# torchvision's MobileNetV2 stages [expansion t, channels c, repeats n, stride s], first five, fewer
# repeats: the network for 28 px images, where the full 17-block stack is mostly overhead on a CPU
SHORT_MOBILENET_V2 = [
    [1, 16, 1, 1],
    [6, 24, 2, 2],
    [6, 32, 2, 2],
    [6, 64, 2, 2],
    [6, 96, 1, 1],
]


def mobilenet_v2_small_images(
    num_classes: int,
    in_chans: int = 1,
    width_mult: float = 0.5,
    stages: list[list[int]] | None = None,
    last_channel: int | None = None,
) -> nn.Module:
    """torchvision's MobileNetV2 (random init) adapted to 28-32 px images.

    The stem takes ``in_chans`` channels, and the last downsampling stage keeps stride 1: the standard
    network shrinks its input 32x (224 px -> a 7x7 map), which would leave a 28 px image as a single
    pixel before the last blocks; one halving fewer leaves a 2x2 map. ``stages`` replaces
    torchvision's inverted-residual setting (e.g. :data:`SHORT_MOBILENET_V2`) and ``last_channel``
    its final 1x1 convolution's width (1280).
    """
    from torchvision.models import mobilenet_v2
    from torchvision.ops.misc import Conv2dNormActivation

    model = mobilenet_v2(
        weights=None,
        num_classes=num_classes,
        width_mult=width_mult,
        inverted_residual_setting=stages,
    )
    stem = model.features[0][0]
    model.features[0][0] = nn.Conv2d(
        in_chans, stem.out_channels, kernel_size=3, stride=2, padding=1, bias=False
    )
    if last_channel is not None:
        model.features[-1] = Conv2dNormActivation(
            model.features[-1][0].in_channels,
            last_channel,
            kernel_size=1,
            activation_layer=nn.ReLU6,
        )
        model.classifier[-1] = nn.Linear(last_channel, num_classes)
    last_downsampling = [block for block in model.features[1:-1] if block.stride == 2][
        -1
    ]
    depthwise = next(
        m
        for m in last_downsampling.conv.modules()
        if isinstance(m, nn.Conv2d) and m.groups > 1
    )
    depthwise.stride = (1, 1)
    last_downsampling.stride = 1
    return model


def small_convnet(in_chans: int, num_classes: int, width: int = 32) -> nn.Sequential:
    """A small VGG-style CNN (conv-BN-ReLU pairs, two poolings, global average pooling): the convnet teacher."""

    def block(c_in: int, c_out: int) -> list[nn.Module]:
        return [
            nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
            nn.BatchNorm2d(c_out),
            nn.ReLU(inplace=True),
        ]

    return nn.Sequential(
        *block(in_chans, width),
        *block(width, width),
        nn.MaxPool2d(2),
        *block(width, 2 * width),
        *block(2 * width, 2 * width),
        nn.MaxPool2d(2),
        *block(2 * width, 4 * width),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(4 * width, num_classes),
    )
