"""The book's teachers for small images: a timm ViT (or DeiT's distilled variant) and the small
VGG-style convnet."""

from __future__ import annotations

from torch import nn


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
