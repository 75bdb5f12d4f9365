"""Fashion-MNIST setup of chapters 4 and 5: data with its fallback, the students' split,
their models and recipes, chapter 4's sweep job."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from kdutils.data import (
    DataNotFoundError,
    Split,
    Splits,
    load_splits,
    stratified_subset,
)
from kdutils.evaluate import predict_logits
from kdutils.models import mobilenet_v2_small_images

from .models import vit_small_images
from .profiles import Profile


def load_fashion(profile: Profile) -> tuple[Splits, str]:
    """Fashion-MNIST splits for ``profile`` (teacher-sized training set, the whole official test
    set but under smoke), or MNIST 5k when it is nowhere to be found.

    Returns the splits and a note for the reader saying which data set is used and why.
    """
    per_class = profile.choose(smoke=40, cpu=2100, gpu=None)
    try:
        splits = load_splits(
            "fashion-mnist",
            per_class_limit=per_class,
            download=profile.allow_download,
            val_fraction=profile.choose(smoke=0.1, cpu=1 / 21, gpu=0.1),
            cap_test=profile.name == "smoke",
        )
        return splits, f"Fashion-MNIST from {splits.source}"
    except DataNotFoundError as err:
        splits = load_splits(
            "mnist", per_class_limit=per_class, download=profile.allow_download
        )
        return (
            splits,
            f"FALLBACK: Fashion-MNIST was not found, so this run uses MNIST ({splits.source}).\n{err}",
        )


def student_training(**recipe: Any) -> dict[str, Any]:
    """Keyword arguments of :func:`kdutils.train.fit` for the chapters' students: AdamW on a cosine
    schedule, learning rate 2e-3, batch 128; ``recipe`` adds or overrides (``epochs``,
    ``weight_decay``, ...)."""
    return {"lr": 2e-3, "schedule": "cosine", "batch_size": 128, **recipe}


def student_train_split(splits: Splits, per_class: int, seed: int = 0) -> Split:
    """The students' smaller training set: ``per_class`` images of each class, drawn (stratified,
    seeded) from the teacher's training images."""
    fraction = min(1.0, per_class * len(splits.classes) / len(splits.train))
    return stratified_subset(splits.train, fraction, seed=seed)


# torchvision's MobileNetV2 stages [expansion t, channels c, repeats n, stride s], first five, fewer
# repeats: the network for 28 px images, where the full 17-block stack is mostly overhead on a CPU.
# Expansion 4, not 6: Sandler et al. 2018 (sec. 4) find small networks slightly better off with
# smaller expansion rates, and batch norm and ReLU6 over the expanded maps are much of a CPU step
SHORT_MOBILENET_V2 = [
    [1, 16, 1, 1],
    [4, 24, 2, 2],
    [4, 32, 2, 2],
    [4, 64, 2, 2],
    [4, 96, 1, 1],
]


# The chapter-4 student: torchvision's MobileNetV2 blocks at width 0.35, the first five stages
# with fewer repeats and expansion 4 (SHORT_MOBILENET_V2), and a 256-wide last
# convolution: on a 2x2 map, a wider one is costly and buys a small student little
MOBILENET_STUDENT = {
    "width_mult": 0.35,
    "stages": SHORT_MOBILENET_V2,
    "last_channel": 256,
}


# The chapter-5 student: a small timm ViT, chapter 4's ViT teacher's width at half its
# depth (kdbook.teachers.VIT_TEACHER)
DEIT_STUDENT = {"embed_dim": 64, "depth": 4, "num_heads": 2, "patch_size": 7}
# Its batch: half the other students' 128, so that a CPU affords four times the steps
# (patient students, issue 28) for about twice the images seen
DEIT_BATCH = 64


def deit_student_training(**recipe: Any) -> dict[str, Any]:
    """Keyword arguments of :func:`kdutils.train.fit` for the chapter-5 students.

    :func:`student_training` at batch :data:`DEIT_BATCH`, with its learning rate scaled
    linearly with the batch, as DeiT scales it (Touvron et al. 2021, sec. 6:
    ``lr = 5e-4 x batch / 512``), and DeiT's weight decay 0.05; ``recipe`` adds or
    overrides (``epochs``, ``progress``, ...).
    """
    base = student_training()
    lr = base["lr"] * DEIT_BATCH / base["batch_size"]
    return student_training(batch_size=DEIT_BATCH, lr=lr, weight_decay=0.05, **recipe)


def mobilenet_student(splits: Splits) -> nn.Module:
    """An untrained chapter-4 student for ``splits``' images and classes, its convolutions in
    channels-last layout (several times faster on a CPU)."""
    model = mobilenet_v2_small_images(
        len(splits.classes), in_chans=splits.train.x.shape[1], **MOBILENET_STUDENT
    )
    return model.to(memory_format=torch.channels_last)


def deit_student(splits: Splits, distilled: bool, **arch: Any) -> nn.Module:
    """The chapter-5 student: a small timm ViT, with a distillation token and head when ``distilled``."""
    from kdutils.deit import DistilledViT

    image = splits.train.x.shape[1:]
    classes = len(splits.classes)
    vit = vit_small_images(image[-1], image[0], classes, distilled=distilled, **arch)
    return DistilledViT(vit) if distilled else vit


class _BothHeads(nn.Module):
    """A distilled ViT (:class:`kdutils.deit.DistilledViT`) seen as one classifier whose logits
    are both heads' side by side."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat(self.model.both_heads(x), dim=1)


def head_logits(
    model: nn.Module, x: torch.Tensor, batch_size: int = 256
) -> dict[str, torch.Tensor]:
    """Every head's logits on ``x`` (``DistilledViT(model.vit, head)`` in eval mode), on the CPU:
    one forward pass per batch for all three, not one per head."""
    from kdutils.deit import HEADS, combine_heads

    # predict_logits restores the wrapper's mode, and with it the model's
    both = predict_logits(_BothHeads(model).train(model.training), x, batch_size)
    class_logits, dist_logits = both.chunk(2, dim=1)
    return {head: combine_heads(class_logits, dist_logits, head) for head in HEADS}
