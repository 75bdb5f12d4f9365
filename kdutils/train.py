"""Training: seeding, device choice, the teacher-logit cache, and the one fit loop every chapter uses."""

from __future__ import annotations

import copy
import math
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm import tqdm

from .data import Split, batches
from .evaluate import accuracy, logits_of, predict_logits
from .losses import require_finite

# objective(student_logits, targets, teacher_logits or None) -> scalar loss
Objective = Callable[[Tensor, Tensor, Tensor | None], Tensor]


def seed_everything(seed: int, deterministic: bool = False) -> None:
    """Seed Python, NumPy and torch; with ``deterministic`` also force deterministic torch kernels."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True)


def pick_device(preferred: str | torch.device = "cpu") -> torch.device:
    """The device to train on: ``"auto"`` (CUDA when visible, else the CPU), ``"cpu"``, ``"cuda"``
    or ``"cuda:N"``; a clear error when CUDA is asked for and missing."""
    allowed = "choose 'auto', 'cpu', 'cuda' or 'cuda:N'"
    if str(preferred) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(preferred)
    except (RuntimeError, TypeError):
        raise ValueError(f"unknown device {preferred!r}; {allowed}") from None
    if device.type == "cpu":
        return device
    if device.type != "cuda":
        raise ValueError(f"unknown device {preferred!r}; {allowed}")
    if not torch.cuda.is_available():
        raise RuntimeError(
            f"device {preferred!r} needs a CUDA GPU and none is visible; "
            "run with profile='cpu' (or 'smoke'), or device='auto'"
        )
    if device.index is not None and device.index >= torch.cuda.device_count():
        raise ValueError(
            f"device {preferred!r}: only {torch.cuda.device_count()} CUDA device(s) visible"
        )
    return device


def distributed_context() -> tuple[int, int]:
    """``(rank, world_size)`` of the process group torchrun set up, or ``(0, 1)`` in a single process."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


def cross_entropy_objective(
    student_logits: Tensor, targets: Tensor, teacher_logits: Tensor | None
) -> Tensor:
    """Plain supervised training: cross-entropy with the labels (ignores the teacher)."""
    return F.cross_entropy(student_logits, targets)


class TeacherCache:
    """The teacher's logits on a fixed input tensor, computed once and looked up by row index.

    Valid only while the inputs do not change: :meth:`check` refuses other inputs, and
    :func:`fit` refuses a cache together with ``augment`` (the inputs would change every epoch and
    the cached logits would be stale). To cache logits on augmented images, cache them on a fixed
    bank of views (:func:`kdutils.augment.view_bank`).
    """

    def __init__(
        self,
        teacher: nn.Module,
        x: Tensor,
        batch_size: int = 1024,
        device: str | torch.device | None = None,
    ) -> None:
        self.teacher = teacher
        self._fingerprint = self._fingerprint_of(x)
        self.logits = predict_logits(teacher, x, batch_size=batch_size, device=device)

    @staticmethod
    def _fingerprint_of(x: Tensor) -> tuple:
        # Shape, storage and version catch a different or modified tensor; the sum catches a copy edited elsewhere.
        return (
            tuple(x.shape),
            x.dtype,
            x.data_ptr(),
            x._version,
            float(x.sum(dtype=torch.float64)),
        )

    def check(self, x: Tensor) -> None:
        """Raise a ValueError unless ``x`` is the tensor these logits were computed on."""
        if self._fingerprint_of(x) != self._fingerprint:
            raise ValueError(
                "TeacherCache was built on other inputs than the ones being trained on; "
                "rebuild it for this data (stale teacher logits would be silently wrong)"
            )

    def __getitem__(self, idx: Tensor | slice | int) -> Tensor:
        if isinstance(idx, Tensor) and idx.ndim == 1:
            return self.logits.index_select(
                0, idx
            )  # the fit loop's case, several times faster than indexing
        return self.logits[idx]


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
        return 0.5 * (
            1
            + math.cos(
                math.pi * min(1.0, (step - warmup) / max(1, total_steps - warmup))
            )
        )

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def _as_logits(out: object) -> Tensor | tuple[Tensor, ...]:
    """A model's output as float logits: a tensor, an object with ``.logits``, a ``{"logits": ...}``
    mapping, or a tuple of heads (DeiT)."""
    if isinstance(out, tuple):
        return tuple(o.float() for o in out)
    return logits_of(out).float()


@dataclass
class History:
    """What a fit did, epoch by epoch, and which epoch was kept."""

    epochs: list[dict] = field(default_factory=list)
    kept_epoch: int = -1
    kept_val_accuracy: float = float("-inf")
    seconds: float = 0.0

    def column(self, key: str) -> list[float]:
        return [row[key] for row in self.epochs]

    def as_dict(self) -> dict:
        return {
            "epochs": self.epochs,
            "kept_epoch": self.kept_epoch,
            "kept_val_accuracy": self.kept_val_accuracy,
            "seconds": self.seconds,
        }


# loss_of(logits, batch indices, inputs, labels) -> (value, tensor to backpropagate from, its gradient)
LossFunction = Callable[
    [Tensor, Tensor, Tensor, Tensor], tuple[float, Tensor, Tensor | None]
]


def _loss_function(
    objective: Objective,
    cache: TeacherCache | None,
    teacher: nn.Module | None,
    labels: Tensor,
    device: torch.device,
) -> LossFunction:
    """The fit loop's loss step, chosen once: an autograd loss, or a closed-form KD gradient.

    An autograd loss is backpropagated from itself. An objective with a closed-form gradient
    (:class:`~kdutils.losses.KDObjective`) hands back its value and its gradient at the logits, and
    backward starts there: no loss graph. With a cache its per-image targets are built once.
    """

    def teacher_logits(idx: Tensor, xb: Tensor) -> Tensor | None:
        if cache is not None:
            return cache[idx].to(device)
        if teacher is None:
            return None
        with torch.no_grad():
            out = teacher(xb)
        return logits_of(out).float()

    has_teacher = cache is not None or teacher is not None
    if not (hasattr(objective, "value_and_grad") and has_teacher):

        def autograd_loss(logits, idx, xb, yb):
            loss = objective(logits, yb, teacher_logits(idx, xb))
            return loss.item(), loss, None  # item(): one device sync per step

        return autograd_loss
    if cache is not None:
        # fixed inputs, fixed targets: built once, looked up per batch
        targets = objective.teacher_targets(cache.logits, labels).to(device)

    def kd_loss(logits, idx, xb, yb):
        batch_targets = (
            targets.select(idx.to(device))
            if cache is not None
            else objective.teacher_targets(teacher_logits(idx, xb), yb)
        )
        value, grad = objective.value_and_grad(logits, batch_targets)
        return value, logits, grad

    return kd_loss


def fit(
    model: nn.Module,
    train: Split,
    val: Split,
    *,
    epochs: int,
    lr: float,
    batch_size: int = 128,
    objective: Objective = cross_entropy_objective,
    teacher: nn.Module | TeacherCache | None = None,
    augment: Callable[[Tensor], Tensor] | None = None,
    weight_decay: float = 0.0,
    betas: tuple[float, float] = (0.9, 0.999),
    optimizer: str = "adam",
    schedule: str = "constant",
    channels_last: bool = False,
    keep: str = "last",
    score: Callable[[dict], float] | None = None,
    eval_every: int = 1,
    seed: int = 0,
    device: str | torch.device = "cpu",
    amp: bool = False,
    progress: bool = True,
    desc: str = "train",
) -> History:
    """Train ``model`` with Adam or AdamW on in-memory tensors for a fixed number of epochs.

    ``keep="last"`` (the default, for every model the book compares) ends with the weights of the last
    epoch of the schedule: validation data chooses hyperparameters, never the epoch, so no model is
    scored at a lucky epoch. ``keep="best"`` (for teachers) keeps the epoch with the highest
    ``score(epoch_row)`` (default: validation accuracy).

    Validation runs every ``eval_every`` epochs and after the last one (a history row per
    validation; its ``train_loss`` and ``train_accuracy``, on the training batches as they were
    seen, average the steps since the previous row). ``train_loss`` is the objective's value: under
    :func:`kdutils.losses.kd_objective` it is Hinton's cross-entropy form, larger than the KL form
    by ``alpha * T^2`` times the teacher's entropy.

    Each step is forward, loss, backward, step. ``augment(batch)`` (e.g.
    :class:`kdutils.augment.Augmentation`) transforms each batch before the forward pass, drawing
    from torch's global generator, which ``seed`` seeds; ``seed`` also orders the batches. It does
    not initialise the model: seed before building it (:func:`seed_everything`).
    ``objective(student_logits, y, teacher_logits)`` gets the teacher's logits for the batch (from
    the cache when ``teacher`` is a :class:`TeacherCache`, else from a forward pass of the teacher
    on the augmented batch) or ``None``. An objective with a closed-form gradient
    (``teacher_targets`` and ``value_and_grad``, :class:`~kdutils.losses.KDObjective`) gets its
    per-image targets instead, built once from a cache or per batch from a live teacher, and backward
    starts from its gradient at the logits (see :func:`_loss_function`).
    Under torchrun the model is wrapped in DistributedDataParallel, each rank trains on its share of
    every global batch of ``batch_size``, losses are averaged over ranks, and only rank 0 shows progress.
    """
    if epochs < 1:
        raise ValueError(f"epochs must be >= 1; got {epochs!r}")
    if keep not in ("last", "best"):
        raise ValueError(f"keep must be 'last' or 'best'; got {keep!r}")
    if score is not None and keep != "best":
        raise ValueError("score chooses the epoch to keep: pass keep='best' with it")
    if lr <= 0:
        raise ValueError(f"learning rate must be > 0; got {lr!r}")
    if eval_every < 1:
        raise ValueError(f"eval_every must be >= 1; got {eval_every!r}")
    for name, split in (("train", train), ("val", val)):
        if not split.x.is_floating_point():
            raise ValueError(
                f"{name}.x holds {split.x.dtype} images; fit expects floating-point "
                "images (in [0, 1] for kdutils' loaders): convert them, e.g. x.float() / 255"
            )
    if isinstance(teacher, TeacherCache) and augment is not None:
        raise ValueError(
            "a TeacherCache holds the teacher's logits on fixed images, but augment= changes the "
            "images at every step, so the cached logits would be stale: pass the teacher model "
            "itself (it then labels each augmented batch), or train on a fixed bank of augmented "
            "views (kdutils.augment.view_bank) and cache the teacher's logits on that"
        )
    rank, world = distributed_context()
    if batch_size % world:
        raise ValueError(
            f"batch_size {batch_size} must be a multiple of the {world} processes"
        )
    device = torch.device(device)
    seed_everything(seed)
    generator = torch.Generator().manual_seed(seed)
    model.to(device)
    cache = teacher if isinstance(teacher, TeacherCache) else None
    teacher_model = teacher.teacher if isinstance(teacher, TeacherCache) else teacher
    if cache is not None:
        cache.check(train.x)
    if teacher_model is not None:
        teacher_model.to(device).eval()
    loss_of = _loss_function(objective, cache, teacher_model, train.y, device)

    optimizers = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW}
    if optimizer not in optimizers:
        raise ValueError(
            f"unknown optimizer {optimizer!r}; choose one of {sorted(optimizers)}"
        )
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    model.to(
        memory_format=memory_format
    )  # channels_last makes CPU convolutions several times faster
    opt = optimizers[optimizer](
        model.parameters(), lr=lr, betas=betas, weight_decay=weight_decay, fused=True
    )
    scheduler = lr_schedule(
        opt, schedule, total_steps=epochs * math.ceil(len(train) / batch_size)
    )
    step_model = model
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel

        step_model = DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None
        )
    train_x, train_y = (
        train.x.to(device),
        train.y.to(device),
    )  # on a GPU the data moves once, not every batch
    history, best_state, best_score = History(), None, float("-inf")
    start = time.perf_counter()
    bar = tqdm(range(epochs), desc=desc, disable=not progress or rank != 0, leave=False)
    tic, cpu_tic, total, count = time.perf_counter(), time.thread_time(), 0.0, 0
    hits = torch.zeros(
        (), dtype=torch.long, device=device
    )  # summed on the device: no sync
    for epoch in bar:
        model.train()
        for idx, xb, yb in batches(
            train_x,
            train_y,
            batch_size,
            shuffle=True,
            generator=generator,
            shard=(rank, world),
        ):
            xb = xb.contiguous(memory_format=memory_format)
            if augment is not None:
                xb = augment(xb)
            # forward (bf16 autocast needs no grad scaler), loss, backward, step
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
                logits = _as_logits(step_model(xb))
            loss_value, root, grad = loss_of(logits, idx, xb, yb)
            require_finite(loss_value, f"{desc} epoch {epoch + 1}")
            opt.zero_grad(set_to_none=True)
            root.backward(grad)
            opt.step()
            scheduler.step()
            total += loss_value * len(yb)
            count += len(yb)
            head = (
                logits[0] if isinstance(logits, tuple) else logits
            )  # DeiT: class head
            hits += (head.detach().argmax(dim=1) == yb).sum()
        if (epoch + 1) % eval_every and epoch + 1 < epochs:
            continue
        correct = hits.item()
        if world > 1:
            sums = torch.tensor(
                [total, count, correct], dtype=torch.float64, device=device
            )
            torch.distributed.all_reduce(sums)
            total, count, correct = sums.tolist()
        val_logits = predict_logits(
            model, val.x, device=device
        )  # every rank: identical weights, identical numbers
        if not torch.isfinite(val_logits).all():
            raise FloatingPointError(
                f"{desc} epoch {epoch + 1}: non-finite logits on the validation images "
                "(NaN or inf in the inputs or the weights); check val.x"
            )
        row = {
            "epoch": epoch + 1,
            "train_loss": total / count,
            "train_accuracy": correct / count,
            "val_loss": F.cross_entropy(val_logits, val.y).item(),
            "val_accuracy": accuracy(val_logits, val.y),
            "seconds": time.perf_counter() - tic,
            "cpu_seconds": time.thread_time() - cpu_tic,
        }  # CPU time of this thread: what it did, not whom it waited for
        history.epochs.append(row)
        if keep == "last":
            history.kept_epoch, history.kept_val_accuracy = (
                row["epoch"],
                row["val_accuracy"],
            )
        else:
            row_score = score(row) if score else row["val_accuracy"]
            if best_state is None or row_score > best_score:
                best_score, best_state = row_score, copy.deepcopy(model.state_dict())
                history.kept_epoch, history.kept_val_accuracy = (
                    row["epoch"],
                    row["val_accuracy"],
                )
        bar.set_postfix(
            loss=f"{row['train_loss']:.3f}", val_acc=f"{row['val_accuracy']:.3f}"
        )
        tic, cpu_tic, total, count = time.perf_counter(), time.thread_time(), 0.0, 0
        hits.zero_()
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    history.seconds = time.perf_counter() - start
    return history
