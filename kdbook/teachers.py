"""Teachers: the book's named teacher recipes (architecture, data, schedule), trained once and cached."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import torch
from torch import nn

from kdutils.augment import Augmentation
from kdutils.checkpoints import cached_model, checkpoint_path, data_fingerprint
from kdutils.data import Split, Splits, resolve_dataset, stratified_subset
from kdutils.models import mlp
from kdutils.runtime import seed_everything
from kdutils.train import fit

from .models import small_convnet, vit_small_images
from .profiles import Profile
from .progress import training_marker
from .sweep import cpu_slot

# chapter 4's ViT teacher, deep rather than wide: the ViT paper's scaling study
# (Dosovitskiy et al. 2021, appendix) finds depth the dimension that pays most and width
# the least; and on a CPU one image's forward pass costs about a fixed time per layer, so
# more layers than the MobileNetV2 student also make the teacher the slower of the two
VIT_TEACHER = {"embed_dim": 64, "depth": 8, "num_heads": 2, "patch_size": 7}
# Fashion-MNIST teachers: random shifts and horizontal flips, the light augmentation that suits
# 28 px clothing (at this size, the stand-in for the random crops and flips of ImageNet training)
FASHION_AUGMENT = {"shift": 2, "hflip": True}
# the widths of the MLP teachers of the capacity-gap chapter, smallest first
MLP_LADDER = (30, 100, 400)


@dataclass(frozen=True)
class TeacherRecipe:
    """How one teacher is built and trained; ``arch`` and ``training`` go into its checkpoint's config."""

    description: str
    build: Callable[[Splits, dict], nn.Module]  # (data, arch) -> an untrained model
    arch: Callable[[Profile], dict]  # the architecture under a profile
    epochs: dict[str, int]  # per profile
    # fit's keyword arguments (lr, schedule, ...); "augment": Augmentation's fields
    training: dict[str, Any] = field(default_factory=dict)
    # per profile, the training images per class (a seeded stratified subset); None: all of them
    train_per_class: dict[str, int] | None = None
    # convolutions in channels-last layout: several times faster on a CPU
    channels_last: bool = False
    # per profile, a batch size replacing the training's (None: keep it): on a GPU a step of
    # these small models costs about the same at any batch size, so bigger batches buy epochs
    batch_size: dict[str, int] | None = None
    # the profiles under which the teacher trains on every training image of the data
    # set but the splits' validation and test images (they may hold a per-class share)
    all_training_images: tuple[str, ...] = ()


def _adamw_cosine(**extra: Any) -> dict[str, Any]:
    """The teachers' optimiser: AdamW, learning rate 2e-3 on a cosine schedule, weight decay
    0.05, batch 128; ``extra`` adds fit's other arguments (augmentation)."""
    return {
        "schedule": "cosine",
        "lr": 2e-3,
        "weight_decay": 0.05,
        "batch_size": 128,
        **extra,
    }


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
    "mnist-cnn": TeacherRecipe(
        "a small VGG-style convnet trained with Hinton et al.'s +-2 px jitter (2015, sec. 3) to the "
        "end of a cosine schedule: the MNIST chapters' teacher. Their teacher was an MLP on 60k "
        "images; on a few thousand a convnet with the same jitter is what gives the headroom theirs "
        "had (half its student's error)",
        _convnet,
        lambda p: {"width": 16},
        {"smoke": 4, "cpu": 20, "gpu": 20},
        _adamw_cosine(augment={"shift": 2}),
        channels_last=True,
    ),
    **{
        f"mnist-mlp-{width}": TeacherRecipe(
            f"a {width}-{width} MLP trained with the convnet's recipe and jitter: one rung of "
            "the capacity-gap chapter's ladder of teachers",
            _mlp,
            lambda p, width=width: {"hidden": [width, width], "dropout": 0.0},
            {"smoke": 4, "cpu": 20, "gpu": 20},
            _adamw_cosine(augment={"shift": 2}),
        )
        for width in MLP_LADDER
    },
    "fashion-vit-full": TeacherRecipe(
        "chapter 4's ViT teacher: a timm ViT eight blocks deep trained from scratch on "
        "every Fashion-MNIST training image but the validation images, with the "
        "convnet's shifts and flips, to the end of a cosine schedule; ViTs need data "
        "(Dosovitskiy et al. 2021)",
        _vit,
        lambda p: p.choose(
            smoke={"embed_dim": 32, "depth": 2, "num_heads": 2, "patch_size": 7},
            cpu=dict(VIT_TEACHER),
            gpu=dict(VIT_TEACHER),
        ),
        {"smoke": 2, "cpu": 7, "gpu": 30},
        _adamw_cosine(augment=FASHION_AUGMENT),
        batch_size={"gpu": 512},
        all_training_images=("cpu", "gpu"),
    ),
    "fashion-cnn": TeacherRecipe(
        "a small VGG-style convnet trained with shifts and flips to the end of a cosine schedule: "
        "DeiT's convnet teacher at small scale",
        _convnet,
        lambda p: {"width": 16},
        {"smoke": 2, "cpu": 15, "gpu": 30},
        _adamw_cosine(augment=FASHION_AUGMENT),
        channels_last=True,
        batch_size={"gpu": 512},
    ),
}

# the MNIST convnet's recipe stopped early, after a quarter of its schedule
TEACHERS["mnist-cnn-early"] = replace(
    TEACHERS["mnist-cnn"],
    description="the MNIST convnet's recipe stopped early, after a short schedule: a weaker, "
    "less confident teacher of the same architecture (the capacity-gap chapter's stand-in for "
    "Cho & Hariharan's early-stopped teachers)",
    epochs={"smoke": 1, "cpu": 5, "gpu": 5},
)


def teacher_config(name: str, profile: Profile, splits: Splits) -> dict:
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
        "channels_last": recipe.channels_last,
        "seed": 0,
        # the images and labels themselves: a teacher is reused only for the same data
        "data": data_fingerprint([splits.train, splits.val]),
    }
    if recipe.train_per_class is not None:
        config["train_per_class"] = recipe.train_per_class[profile.name]
    if profile.name in recipe.all_training_images:
        config["train_images"] = {
            "all but validation and test": len(all_training_images(splits))
        }
    if recipe.batch_size is not None and profile.name in recipe.batch_size:
        config["batch_size"] = recipe.batch_size[profile.name]
    return config


def all_training_images(splits: Splits) -> Split:
    """Every training image of ``splits``' data set, from the source it was read from,
    but those whose pixels are among its validation or test images: more than
    ``splits.train`` holds when the splits keep only a per-class share of the data."""
    raw = resolve_dataset(splits.name)
    if raw.source != splits.source:
        raise ValueError(
            f"the splits of {splits.name!r} were read from {splits.source!r}, but it "
            f"now resolves to {raw.source!r}: the teacher would train on other images "
            "than the students'; load the splits and the teacher from the same source"
        )

    def pixels(x: torch.Tensor) -> list[bytes]:  # [0, 1] floats back to their bytes
        as_bytes = x.mul(255).round().to(torch.uint8) if x.is_floating_point() else x
        return [row.tobytes() for row in as_bytes.reshape(len(x), -1).numpy()]

    held_out = set(pixels(splits.val.x)) | set(pixels(splits.test.x))
    keep = [i for i, p in enumerate(pixels(raw.images)) if p not in held_out]
    index = torch.tensor(keep, dtype=torch.long)
    return Split(raw.images[index].float().div_(255.0), raw.labels[index].clone())


def _training_images(splits: Splits, config: dict) -> Split:
    """The teacher's training images: all of ``splits.train``, its seeded per-class
    subset, or every training image of the data set but the validation and test ones."""
    if "train_images" in config:
        return all_training_images(splits)
    if "train_per_class" not in config:
        return splits.train
    share = config["train_per_class"] * len(splits.classes) / len(splits.train)
    return stratified_subset(splits.train, min(1.0, share), seed=config["seed"])


def get_teacher(
    name: str,
    profile: Profile,
    splits: Splits,
    *,
    progress: bool = True,
) -> tuple[nn.Module, dict, bool]:
    """The trained teacher ``name``, from the checkpoint cache when present: ``(model, {"history": ...}, loaded)``.

    Every teacher is trained to the end of its schedule and kept there (no early stopping: a
    teacher is scored like the students, at the last epoch).
    """
    config = teacher_config(name, profile, splits)
    recipe = TEACHERS[name]
    training = dict(recipe.training)
    if "batch_size" in config:
        training["batch_size"] = config["batch_size"]
    if "augment" in training:
        training["augment"] = Augmentation(**training["augment"])

    def build() -> nn.Module:
        seed_everything(config["seed"])
        return recipe.build(splits, config["arch"])

    def train(model: nn.Module) -> dict:
        model.to(profile.device)
        if recipe.channels_last:
            model.to(memory_format=torch.channels_last)
        # the marker tells the book's progress line what is training; beside other notebooks,
        # a teacher takes its turn on a core too
        marker = checkpoint_path(checkpoint, config).with_suffix(".training")
        with training_marker(marker), cpu_slot():
            history = fit(
                model,
                _training_images(splits, config),
                splits.val,
                epochs=config["epochs"],
                seed=config["seed"],
                progress=f"teacher {name}" if progress else False,
                **training,
            )
        return {"history": history.as_dict()}

    checkpoint = f"{name}-{splits.name}"
    model, extra, loaded = cached_model(checkpoint, config, build, train)
    # a checkpoint loads on the CPU in the default memory format: so must a teacher trained just
    # now, or its logits differ in the last bits from the cached teacher's, and so would every
    # run after
    model.to("cpu", memory_format=torch.contiguous_format)
    return model, extra, loaded
