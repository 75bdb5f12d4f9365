"""Fashion-MNIST setup shared by the ViT -> MobileNetV2 and DeiT chapters: data with its fallback, cached teachers."""

from __future__ import annotations

from torch import nn

from .checkpoints import cached_model
from .data import DataNotFoundError, Splits, load_splits, stratified_subset
from .models import vit_small_images
from .profiles import Profile
from .train import fit, seed_everything

VIT_TEACHER = {"embed_dim": 192, "depth": 6, "num_heads": 3, "patch_size": 7}


def load_fashion(profile: Profile) -> tuple[Splits, str]:
    """Fashion-MNIST splits for ``profile`` (teacher-sized training set), or MNIST 5k when it is nowhere to be found.

    Returns the splits and a note for the reader saying which data set is used and why.
    """
    per_class = profile.choose(smoke=40, cpu=2100, gpu=None)
    try:
        splits = load_splits("fashion-mnist", per_class_limit=per_class, download=profile.allow_download,
                             val_fraction=profile.choose(smoke=0.1, cpu=1 / 21, gpu=0.1))
        return splits, f"Fashion-MNIST from {splits.source}"
    except DataNotFoundError as err:
        splits = load_splits("mnist", per_class_limit=per_class, download=profile.allow_download)
        return splits, f"FALLBACK: Fashion-MNIST was not found, so this run uses MNIST ({splits.source}).\n{err}"


def student_train_split(profile: Profile, splits: Splits, seed: int = 0):
    """The students' smaller training set: a stratified share of the teacher's training images."""
    return stratified_subset(splits.train, profile.choose(smoke=0.5, cpu=0.25, gpu=0.25), seed=seed)


def vit_teacher_config(profile: Profile, splits: Splits) -> dict:
    """A small ViT (timm) trained from scratch: our stand-in for the guide's fine-tuned ViT."""
    return {"dataset": splits.name, "source": splits.source, "sizes": splits.summary(), "arch": "timm VisionTransformer",
            **VIT_TEACHER, "optimizer": "adamw", "schedule": "cosine", "lr": 2e-3, "weight_decay": 0.05,
            "batch_size": 128, "epochs": profile.choose(smoke=2, cpu=6, gpu=30), "seed": 0}


def vit_teacher(profile: Profile, splits: Splits, progress: bool = True) -> tuple[nn.Module, dict, bool]:
    """The ViT teacher, trained once on the full training split and cached: ``(model, extra, loaded)``."""
    config = vit_teacher_config(profile, splits)
    image = splits.train.x.shape[1:]

    def build() -> nn.Module:
        seed_everything(config["seed"])
        return vit_small_images(image[-1], image[0], len(splits.classes), **VIT_TEACHER)

    def train(model: nn.Module) -> dict:
        history = fit(model, splits.train, splits.val, epochs=config["epochs"], lr=config["lr"],
                      weight_decay=config["weight_decay"], optimizer="adamw", schedule=config["schedule"], batch_size=config["batch_size"],
                      seed=config["seed"], device=profile.device, amp=profile.amp, progress=progress,
                      keep="best", desc="ViT teacher")
        return {"history": history.as_dict()}

    return cached_model(f"vit-teacher-{splits.name}", config, build, train)
