"""The training loop: fit a classifier, alone or distilled from a teacher, and the History of what it did."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm import tqdm

from .cache import TeacherCache
from .evaluate import accuracy, logits_of, model_device, predict
from .loaders import ShuffledBatches, TrainingData, check_training_data
from .losses import Objective, cross_entropy_objective, require_finite
from .runtime import all_ranks_sum, autocast, distributed_context, seed_everything


def lr_schedule(
    optimizer: torch.optim.Optimizer, name: str, total_steps: int
) -> torch.optim.lr_scheduler.LambdaLR:
    """``constant``, or ``cosine``: linear warm-up over the first 5% of steps, then cosine decay to zero."""
    if name == "constant":
        return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    if name != "cosine":
        raise ValueError(f"unknown schedule {name!r}; choose 'constant' or 'cosine'")
    warmup = max(1, total_steps // 20)

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = min(1.0, (step - warmup) / max(1, total_steps - warmup))
        return 0.5 * (1 + math.cos(math.pi * progress))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


@dataclass
class History:
    """What a fit did: one row per validation (epoch, losses, accuracies, seconds), and its duration."""

    epochs: list[dict] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def final_val_accuracy(self) -> float:
        """The validation accuracy of the weights fit returned: those of the last epoch."""
        return self.epochs[-1]["val_accuracy"]

    def column(self, key: str) -> list[float]:
        """One value per history row, e.g. ``column("val_accuracy")``."""
        return [row[key] for row in self.epochs]

    def as_dict(self) -> dict:
        """Everything as plain Python (for JSON, and for :func:`kdutils.plots.training_curves`)."""
        return {"epochs": self.epochs, "seconds": self.seconds}


def _float_logits(out: object) -> Tensor | tuple[Tensor, ...]:
    """A model's output as float32 logits: a tensor, a Hugging Face output, or a tuple of heads (DeiT)."""
    if isinstance(out, tuple):
        return tuple(o.float() for o in out)
    return logits_of(out).float()


def teacher_logits_source(
    teacher: nn.Module | TeacherCache | None,
    train: TrainingData,
    augment: Callable | None,
    device: torch.device,
) -> Callable[[Tensor, Tensor], Tensor | None]:
    """``(indices, images) -> teacher logits`` for a batch: looked up in a cache, computed by a live
    teacher on the (augmented) images, or None without a teacher."""
    if teacher is None:
        return lambda idx, xb: None
    if isinstance(teacher, TeacherCache):
        if augment is not None:
            raise ValueError(
                "a TeacherCache holds the teacher's logits on fixed images, but augment= "
                "changes the images at every step, so the cached logits would be stale: pass "
                "the teacher model itself (it then labels each augmented batch), or train on "
                "a fixed bank of augmented views (kdutils.augment.view_bank) and cache the "
                "teacher's logits on that"
            )
        teacher.check(train)
        logits = teacher.logits.to(device)  # once, not every batch
        return lambda idx, xb: logits.index_select(0, idx.to(device))
    teacher.to(device).eval()

    # full precision, as a TeacherCache computes its logits: the same targets either way
    @torch.no_grad()
    def live(idx: Tensor, xb: Tensor) -> Tensor:
        return logits_of(teacher(xb)).float()

    return live


def validate(
    model: nn.Module, val: TrainingData, batch_size: int, device: torch.device
) -> dict[str, float]:
    """``val_loss`` and ``val_accuracy`` of ``model`` on ``val``; an error on non-finite logits."""
    logits, y = predict(model, val, device)
    if not torch.isfinite(logits).all():
        raise FloatingPointError(
            "non-finite logits on the validation images (NaN or inf in the inputs or the "
            "weights); check the validation images"
        )
    return {
        "val_loss": F.cross_entropy(logits, y).item(),
        "val_accuracy": accuracy(logits, y),
    }


def fit(
    model: nn.Module,
    train: TrainingData,
    val: TrainingData,
    *,
    epochs: int,
    lr: float,
    batch_size: int = 128,
    objective: Objective = cross_entropy_objective,
    teacher: nn.Module | TeacherCache | None = None,
    augment: Callable[[Tensor], Tensor] | None = None,
    weight_decay: float = 0.0,
    betas: tuple[float, float] = (0.9, 0.999),
    schedule: str = "constant",
    eval_every: int = 1,
    seed: int = 0,
    progress: bool | str = True,
) -> History:
    """Train ``model`` with AdamW, where it is (CPU or GPU), for ``epochs`` epochs; return its :class:`History`.

    Each step: a batch (``augment`` applied), the student's logits, ``loss = objective(logits,
    labels, teacher_logits)``, ``loss.backward()``, an AdamW step (``weight_decay=0``: Adam). The
    teacher's logits come from ``teacher``: a :class:`~kdutils.cache.TeacherCache` (by index), or
    a model (in eval mode, full precision, on the very batch the student sees), or are None.
    ``train`` and ``val``: in-memory :class:`~kdutils.data.Split` tensors (the fast path), a
    ``Dataset`` of ``(image, label)`` pairs (streamed in the batches a Split of the same images
    gives: the same numbers) or a ``DataLoader`` (its own workers, batches and order: other numbers).

    The model ends with the last epoch's weights: validation data chooses hyperparameters, never
    the epoch. It is validated every ``eval_every`` epochs and after the last, a history row each:
    ``train_loss`` (the objective's value; under ``kd_objective`` mostly ``T^2`` times a KL),
    ``train_ce`` (the labels' cross-entropy, comparable under any objective) and ``train_accuracy``
    average the steps since the previous row. ``seed`` orders the batches and seeds ``augment``;
    seed before building the model to fix its weights. ``schedule``: :func:`lr_schedule`. On a GPU
    the student's forward pass runs in bf16 autocast; under torchrun the model is wrapped in
    DistributedDataParallel, each process training on its share of every global batch.
    """
    if epochs < 1 or eval_every < 1 or not lr > 0:
        raise ValueError(
            f"fit needs epochs >= 1, eval_every >= 1 and lr > 0; got epochs={epochs!r}, "
            f"eval_every={eval_every!r}, lr={lr!r}"
        )
    check_training_data("val", val)
    device = model_device(model)
    rank, world = distributed_context()
    seed_everything(seed)
    generator = torch.Generator().manual_seed(seed)
    train_batches = ShuffledBatches(train, batch_size, generator, device, (rank, world))
    teacher_logits = teacher_logits_source(teacher, train, augment, device)
    step_model = model
    if world > 1:
        ids = [device.index] if device.type == "cuda" else None
        step_model = nn.parallel.DistributedDataParallel(model, device_ids=ids)
    opt = torch.optim.AdamW(
        model.parameters(), lr=lr, betas=betas, weight_decay=weight_decay, fused=True
    )
    scheduler = lr_schedule(opt, schedule, epochs * len(train_batches))
    label = progress if isinstance(progress, str) else "train"
    bar = tqdm(range(epochs), desc=label, disable=not progress or rank > 0, leave=False)
    mixed_precision = autocast(device)
    history, start = History(), time.perf_counter()
    tic, cpu_tic, total, count = start, time.thread_time(), 0.0, 0
    # summed without a sync: right answers, and the labels' cross-entropy under any objective
    hits = torch.zeros((), dtype=torch.long, device=device)
    ce = torch.zeros((), dtype=torch.float64, device=device)
    for epoch in bar:
        model.train()
        for idx, xb, yb in train_batches:
            if augment is not None:
                xb = augment(xb)
            with mixed_precision:
                logits = _float_logits(step_model(xb))
            loss = objective(logits, yb, teacher_logits(idx, xb))
            value = require_finite(loss.item(), f"{label} epoch {epoch + 1}")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            scheduler.step()
            total, count = total + value * len(yb), count + len(yb)
            # DeiT: class head
            head = logits[0] if isinstance(logits, tuple) else logits
            hits += (head.detach().argmax(dim=1) == yb).sum()
            ce += F.cross_entropy(head.detach().float(), yb, reduction="sum")
        if (epoch + 1) % eval_every and epoch + 1 < epochs:
            continue
        total, count, correct, ce_sum = all_ranks_sum(
            [total, count, hits.item(), ce.item()], device
        )
        row = {
            "epoch": epoch + 1,
            "train_loss": total / count,
            "train_ce": ce_sum / count,
            "train_accuracy": correct / count,
            **validate(model, val, batch_size, device),
            "seconds": time.perf_counter() - tic,
            # CPU time of this thread: what it did, not whom it waited for
            "cpu_seconds": time.thread_time() - cpu_tic,
        }
        history.epochs.append(row)
        bar.set_postfix(
            loss=f"{row['train_loss']:.3f}", val=f"{row['val_accuracy']:.3f}"
        )
        tic, cpu_tic, total, count = time.perf_counter(), time.thread_time(), 0.0, 0
        hits.zero_(), ce.zero_()
    model.eval()
    history.seconds = time.perf_counter() - start
    return history
