"""Teachers: the book's named teacher recipes (architecture, data, schedule), trained once and cached."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from kdutils.checkpoints import cached_model
from kdutils.data import Splits
from kdutils.models import mlp, small_convnet, vit_small_images
from kdutils.train import fit, seed_everything

from .profiles import Profile

MNIST_TEACHER_HIDDEN = (
    1200,
    1200,
)  # the blog's teacher, as in Hinton et al.'s MNIST experiment
VIT_TEACHER = {"embed_dim": 192, "depth": 6, "num_heads": 3, "patch_size": 7}


@dataclass(frozen=True)
class TeacherRecipe:
    """How one teacher is built and trained; ``arch`` and ``training`` go into its checkpoint's config."""

    description: str
    build: Callable[[Splits, dict], nn.Module]  # (data, arch) -> an untrained model
    arch: Callable[[Profile], dict]  # the architecture under a profile
    epochs: dict[str, int]  # per profile
    training: dict[str, Any] = field(
        default_factory=dict
    )  # fit's keyword arguments (optimizer, lr, ...)


def _mlp(splits: Splits, arch: dict) -> nn.Module:
    return mlp(
        splits.train.x[0].numel(), arch["hidden"], len(splits.classes), arch["dropout"]
    )


def _vit(splits: Splits, arch: dict) -> nn.Module:
    channels, size = splits.train.x.shape[1], splits.train.x.shape[-1]
    return vit_small_images(size, channels, len(splits.classes), **arch)


def _convnet(splits: Splits, arch: dict) -> nn.Module:
    return small_convnet(splits.train.x.shape[1], len(splits.classes), arch["width"])


TEACHERS: dict[str, TeacherRecipe] = {
    "theory-mlp": TeacherRecipe(
        "the theory chapter's classifier: an MLP with dropout 0.2, Adam",
        _mlp,
        lambda p: {
            "hidden": p.choose(smoke=[128], cpu=[512, 512], gpu=[1200, 1200]),
            "dropout": 0.2,
        },
        {"smoke": 15, "cpu": 15, "gpu": 30},
        {"lr": 1e-3, "batch_size": 128},
    ),
    "mnist-mlp": TeacherRecipe(
        "the MNIST blog's teacher: 784-1200-1200-10, dropout 0.5, Adam 2e-4 with betas (0.5, 0.999), batch 64 "
        "(the blog's 5 epochs over 48k images are ~3750 steps; on less data we run a similar number of steps)",
        _mlp,
        lambda p: {"hidden": list(MNIST_TEACHER_HIDDEN), "dropout": 0.5},
        {"smoke": 20, "cpu": 60, "gpu": 5},
        {"lr": 2e-4, "betas": (0.5, 0.999), "batch_size": 64},
    ),
    "fashion-vit": TeacherRecipe(
        "a small timm ViT trained from scratch: the stand-in for the Hugging Face guide's fine-tuned ViT",
        _vit,
        lambda p: dict(VIT_TEACHER),
        {"smoke": 2, "cpu": 6, "gpu": 30},
        {
            "optimizer": "adamw",
            "schedule": "cosine",
            "lr": 2e-3,
            "weight_decay": 0.05,
            "batch_size": 128,
        },
    ),
    "fashion-cnn": TeacherRecipe(
        "a small VGG-style convnet: DeiT's convnet teacher at small scale",
        _convnet,
        lambda p: {"width": 32},
        {"smoke": 2, "cpu": 6, "gpu": 30},
        {
            "optimizer": "adamw",
            "lr": 2e-3,
            "weight_decay": 0.05,
            "batch_size": 128,
            "channels_last": True,
        },
    ),
}


def teacher_config(
    name: str,
    profile: Profile,
    splits: Splits,
    target_val_accuracy: float | None = None,
) -> dict:
    """Everything the teacher ``name`` depends on under ``profile`` and ``splits``: its checkpoint's key."""
    if name not in TEACHERS:
        raise ValueError(f"unknown teacher {name!r}; choose one of {sorted(TEACHERS)}")
    recipe = TEACHERS[name]
    config = {
        "teacher": name,
        "dataset": splits.name,
        "source": splits.source,
        "sizes": splits.summary(),
        "arch": recipe.arch(profile),
        "epochs": recipe.epochs[profile.name],
        **recipe.training,
        "seed": 0,
    }
    if target_val_accuracy is not None:
        config["target_val_accuracy"] = round(target_val_accuracy, 4)
    return config


def get_teacher(
    name: str,
    profile: Profile,
    splits: Splits,
    *,
    target_val_accuracy: float | None = None,
    progress: bool = True,
) -> tuple[nn.Module, dict, bool]:
    """The trained teacher ``name``, from the checkpoint cache when present: ``(model, {"history": ...}, loaded)``.

    It keeps its best validation epoch or, with ``target_val_accuracy``, the epoch whose validation
    accuracy is closest to it (a teacher of similar accuracy to another).
    """
    recipe = TEACHERS.get(name)
    config = teacher_config(name, profile, splits, target_val_accuracy)

    def build() -> nn.Module:
        seed_everything(config["seed"])
        return recipe.build(splits, config["arch"])

    def train(model: nn.Module) -> dict:
        score = (
            None
            if target_val_accuracy is None
            else lambda row: -abs(row["val_accuracy"] - target_val_accuracy)
        )
        history = fit(
            model,
            splits.train,
            splits.val,
            epochs=config["epochs"],
            seed=config["seed"],
            device=profile.device,
            amp=profile.amp,
            progress=progress,
            keep="best",
            score=score,
            desc=f"teacher {name}",
            **recipe.training,
        )
        return {"history": history.as_dict()}

    model, extra, loaded = cached_model(f"{name}-{splits.name}", config, build, train)
    # a checkpoint loads in the default memory format: so must a teacher trained just now (channels_last),
    # or its logits differ in the last bits from the cached teacher's, and so would every run after
    model.to(memory_format=torch.contiguous_format)
    return model, extra, loaded
