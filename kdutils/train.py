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
from torch.utils.data import DataLoader, Dataset, IterableDataset
from tqdm import tqdm

from .data import Split, batches
from .evaluate import accuracy, logits_of, predict_dataset, predict_logits
from .losses import require_finite

# objective(student_logits, targets, teacher_logits or None) -> scalar loss
Objective = Callable[[Tensor, Tensor, Tensor | None], Tensor]
# what fit trains and validates on: in-memory tensors (the fast path), or images streamed from a
# Dataset of (image, label) pairs, or from a DataLoader over one
TrainingData = Split | Dataset | DataLoader

# torchvision transforms that draw anew every time an image is loaded (besides every Random* class)
_RANDOM_TRANSFORMS = {
    "AugMix",
    "AutoAugment",
    "ColorJitter",
    "ElasticTransform",
    "GaussianBlur",
    "GaussianNoise",
    "RandAugment",
    "ScaleJitter",
    "TrivialAugmentWide",
}


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


class _Indexed(Dataset):
    """A dataset of ``(image, label)`` pairs whose items also carry their index, by which a
    :class:`TeacherCache` looks the teacher's logits up."""

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> tuple[int, Tensor, Tensor]:
        item = self.dataset[index]
        if not isinstance(item, (tuple, list)) or len(item) < 2:
            raise TypeError(
                f"fit expects a dataset of (image, label) pairs; item {index} is a "
                f"{type(item).__name__}"
            )
        return index, item[0], item[1]


class _CollateWithIndex:
    """A DataLoader's own ``collate_fn`` applied to the pairs, with the indices collated beside."""

    def __init__(self, collate: Callable) -> None:
        self.collate = collate

    def __call__(self, items: list) -> tuple[Tensor, Tensor, Tensor]:
        indices = torch.tensor([index for index, _, _ in items])
        x, y = self.collate([(x, y) for _, x, y in items])
        return indices, x, y


def _dataset_of(data: Dataset | DataLoader) -> Dataset:
    dataset = data.dataset if isinstance(data, DataLoader) else data
    if isinstance(dataset, IterableDataset):
        raise TypeError(
            "fit needs a map-style Dataset (len() and [index]): an IterableDataset has no "
            "index to cache teacher logits by or to shuffle; load it into a Dataset or a Split"
        )
    return dataset


def indexed_loader(
    data: Dataset | DataLoader,
    batch_size: int = 128,
    shuffle: bool = False,
    generator: torch.Generator | None = None,
    num_workers: int = 0,
) -> DataLoader:
    """A DataLoader of ``(indices, images, labels)`` batches over ``data``.

    A Dataset gets a loader with these settings; a DataLoader keeps its own batches, sampler,
    workers and collate function, with each batch's dataset indices added.
    """
    dataset = _Indexed(_dataset_of(data))
    if isinstance(data, DataLoader):
        return DataLoader(
            dataset,
            batch_sampler=data.batch_sampler,
            num_workers=data.num_workers,
            collate_fn=_CollateWithIndex(data.collate_fn),
            pin_memory=data.pin_memory,
            worker_init_fn=data.worker_init_fn,
            generator=data.generator,
        )
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle,
        generator=generator,
        num_workers=num_workers,
        persistent_workers=num_workers > 0,
    )


def _transforms_of(obj: object, depth: int = 0) -> list[object]:
    """The transforms a dataset applies to its images: its ``transform``/``transforms``, unpacked
    from ``Compose`` and from wrapping datasets (``Subset``)."""
    if depth > 5 or obj is None:
        return []
    found: list[object] = []
    for name in ("transform", "transforms"):
        value = getattr(obj, name, None)
        if isinstance(value, (list, tuple)):
            for t in value:
                found += [t, *_transforms_of(t, depth + 1)]
        elif value is not None:
            found += [value, *_transforms_of(value, depth + 1)]
    return found + _transforms_of(getattr(obj, "dataset", None), depth + 1)


def check_deterministic(dataset: Dataset, probes: int = 4) -> None:
    """Raise a ValueError when loading the same image twice can give two different tensors: a
    random transform (by its class, or caught by loading the first ``probes`` images twice)."""
    random_ones = sorted(
        {
            type(t).__name__
            for t in _transforms_of(dataset)
            if type(t).__name__.startswith("Random")
            or type(t).__name__ in _RANDOM_TRANSFORMS
        }
    )
    if not random_ones:
        for index in range(min(probes, len(dataset))):
            first, again = dataset[index][0], dataset[index][0]
            if not torch.equal(torch.as_tensor(first), torch.as_tensor(again)):
                random_ones = [f"(unnamed: image {index} loads differently twice)"]
                break
    if random_ones:
        raise ValueError(
            f"the dataset's transform draws anew every time an image is loaded "
            f"({', '.join(random_ones)}), so teacher logits cached once would not match the "
            "images the student sees: pass the teacher model itself to fit (teacher=model; "
            "it then labels each batch live), or cache on a dataset with deterministic "
            "transforms (for augmented images, a fixed bank of views: "
            "kdutils.augment.view_bank)"
        )


class TeacherCache:
    """The teacher's logits on fixed inputs, computed once and looked up by index.

    The inputs are an image tensor (rows are the indices) or a Dataset of ``(image, label)`` pairs
    (dataset indices; a DataLoader's dataset), whose transforms must be deterministic
    (:func:`check_deterministic`). Valid only while the inputs do not change: :meth:`check`
    refuses other inputs, and :func:`fit` refuses a cache together with ``augment`` (the inputs
    would change every epoch and the cached logits would be stale). To cache logits on augmented
    images, cache them on a fixed bank of views (:func:`kdutils.augment.view_bank`).
    """

    def __init__(
        self,
        teacher: nn.Module,
        x: Tensor | Dataset | DataLoader,
        batch_size: int = 1024,
        device: str | torch.device | None = None,
        num_workers: int = 0,
    ) -> None:
        self.teacher = teacher
        self.labels: Tensor | None = None  # a dataset's labels, read while caching
        if isinstance(x, Tensor):
            self._fingerprint = self._fingerprint_of(x)
            self.logits = predict_logits(
                teacher, x, batch_size=batch_size, device=device
            )
            return
        dataset = _dataset_of(x)
        check_deterministic(dataset)
        self._fingerprint = ("dataset", id(dataset), len(dataset))
        self._dataset = dataset  # kept alive, so that its id stays its own
        self.logits, self.labels = predict_dataset(
            teacher,
            dataset,
            batch_size=batch_size,
            device=device,
            num_workers=num_workers,
        )

    @classmethod
    def from_logits(cls, logits: Tensor, x: Tensor) -> TeacherCache:
        """A cache of logits computed elsewhere (a sweep job, a hub model) on the image tensor ``x``,
        row ``i`` on image ``i``."""
        if len(logits) != len(x):
            raise ValueError(
                f"{len(logits)} rows of logits for {len(x)} images: "
                "give one row per image of x"
            )
        cache = cls.__new__(cls)
        cache.teacher, cache.labels = None, None
        cache._fingerprint = cls._fingerprint_of(x)
        cache.logits = logits
        return cache

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

    def check(self, data: Tensor | Split | Dataset | DataLoader) -> None:
        """Raise a ValueError unless ``data`` is what these logits were computed on."""
        if isinstance(data, Split):
            data = data.x
        if isinstance(data, Tensor):
            same = self._fingerprint == self._fingerprint_of(data)
        else:
            dataset = _dataset_of(data)
            same = self._fingerprint == ("dataset", id(dataset), len(dataset))
        if not same:
            raise ValueError(
                "TeacherCache was built on other inputs than the ones being trained on; "
                "rebuild it for this data (stale teacher logits would be silently wrong)"
            )

    def rolled(self, rows: int) -> TeacherCache:
        """A cache for the same inputs in which row ``i`` holds the logits of row ``i + rows``
        (wrapping round).

        On a bank of views (:func:`kdutils.augment.view_bank`: one block of ``len(split)`` rows per
        view), rolling by one block gives each view the teacher's logits on *another* view of the
        same image: Beyer et al. 2022's *independent views*, where teacher and student see
        different augmentations.
        """
        other = copy.copy(self)
        other.logits = self.logits.roll(-rows, dims=0)
        return other

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
        """One value per history row, e.g. ``column("val_accuracy")``."""
        return [row[key] for row in self.epochs]

    def as_dict(self) -> dict:
        """Everything as plain Python (for JSON, and for :func:`kdutils.plots.training_curves`)."""
        return {
            "epochs": self.epochs,
            "kept_epoch": self.kept_epoch,
            "kept_val_accuracy": self.kept_val_accuracy,
            "seconds": self.seconds,
        }


class _LossStep:
    """The fit loop's loss step, chosen once: an autograd loss, or a closed-form KD gradient; and
    the running sums of the loss's hard and soft parts between history rows.

    Called with a batch's ``(logits, indices, inputs, labels)`` it returns ``(value, tensor to
    backpropagate from, its gradient or None)``. An autograd loss is backpropagated from itself;
    its hard part is the cross-entropy of the (class head's) logits with the labels. An objective
    with a closed-form gradient (:class:`~kdutils.losses.KDObjective`) hands back its value, its
    gradient at the logits and both cross-entropies, and backward starts there: no loss graph.
    With a cache its per-image targets are built once.
    """

    def __init__(
        self,
        objective: Objective,
        cache: TeacherCache | None,
        teacher: nn.Module | None,
        labels: Tensor | None,
        device: torch.device,
    ) -> None:
        self.objective = objective
        self.cache = cache
        self.teacher = teacher
        self.device = device
        self.closed_form = hasattr(objective, "value_and_grad") and (
            cache is not None or teacher is not None
        )
        self.plain = objective is cross_entropy_objective
        self.cached_entropy = None
        if self.closed_form and cache is not None:
            # fixed inputs, fixed targets: built once, looked up per batch; every epoch visits
            # every image once, so the mean entropy of the soft targets seen is theirs
            targets = objective.teacher_targets(cache.logits, labels)
            self.cached_entropy = targets.entropy.mean().item()
            self.targets = targets._replace(entropy=None).to(device)  # one less lookup
        self.reset()

    def reset(self) -> None:
        """Start new sums: hard CE, soft CE (closed form), soft targets' entropy (live teacher)."""
        self.totals = [0.0, 0.0, 0.0]

    def _teacher_logits(self, idx: Tensor, xb: Tensor) -> Tensor | None:
        if self.cache is not None:
            return self.cache[idx].to(self.device)
        if self.teacher is None:
            return None
        with torch.no_grad():
            out = self.teacher(xb)
        return logits_of(out).float()

    def __call__(
        self, logits: Tensor | tuple[Tensor, ...], idx: Tensor, xb: Tensor, yb: Tensor
    ) -> tuple[float, Tensor, Tensor | None]:
        if self.closed_form:
            if self.cache is not None:
                targets = self.targets.select(idx.to(self.device))
            else:
                targets = self.objective.teacher_targets(
                    self._teacher_logits(idx, xb), yb
                )
                self.totals[2] += targets.entropy.sum().item()
            step = self.objective.value_and_grad(logits, targets)
            self.totals[0] += step.cross_entropies[0]
            self.totals[1] += step.cross_entropies[1]
            return step.value, logits, step.grad
        loss = self.objective(logits, yb, self._teacher_logits(idx, xb))
        if self.plain:  # the loss is the hard part
            value = loss.item()  # one sync per step
            self.totals[0] += value * len(yb)
            return value, loss, None
        with torch.no_grad():
            head = logits[0] if isinstance(logits, tuple) else logits
            hard = F.cross_entropy(head, yb, reduction="sum")
            value, hard = torch.stack([loss.detach(), hard]).tolist()  # one sync
        self.totals[0] += hard
        return value, loss, None

    def parts(self, images: int) -> dict[str, float]:
        """``hard_loss`` and (closed form) ``soft_loss`` per image since :meth:`reset`, over
        ``images`` images (all ranks': the sums are reduced over torchrun's processes)."""
        totals = torch.tensor(self.totals, dtype=torch.float64)
        if distributed_context()[1] > 1:
            totals = totals.to(self.device)
            torch.distributed.all_reduce(totals)
        hard_ce, soft_ce, entropy = totals.tolist()
        if not self.closed_form:
            return {"hard_loss": hard_ce / images}
        mean_entropy = (
            self.cached_entropy if self.cache is not None else entropy / images
        )
        hard, soft = self.objective.parts((hard_ce, soft_ce), images, mean_entropy)
        return {"hard_loss": hard, "soft_loss": soft}


def _check_float(name: str, x: Tensor) -> None:
    if not x.is_floating_point():
        raise ValueError(
            f"{name} holds {x.dtype} images; fit expects floating-point "
            "images (in [0, 1] for kdutils' loaders): convert them, e.g. x.float() / 255"
        )


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
    optimizer: str = "adam",
    schedule: str = "constant",
    channels_last: bool = False,
    keep: str = "last",
    score: Callable[[dict], float] | None = None,
    eval_every: int = 1,
    num_workers: int = 0,
    seed: int = 0,
    device: str | torch.device = "cpu",
    amp: bool = False,
    progress: bool = True,
    desc: str = "train",
) -> History:
    """Train ``model`` with Adam or AdamW for a fixed number of epochs.

    ``train`` and ``val`` are in-memory :class:`~kdutils.data.Split` tensors (the fast path: batches
    by index, no per-image Python), or a ``torch.utils.data.Dataset`` of ``(image, label)`` pairs
    (streamed through a DataLoader with ``batch_size``, shuffled by ``seed``, ``num_workers``
    worker processes, per-image transforms in the dataset), or a ``DataLoader`` (used with its own
    batches, sampler, workers and collate function). A :class:`TeacherCache` built on the same
    dataset looks its logits up by dataset index; it refuses datasets with random transforms.

    ``keep="last"`` (the default, for every model the book compares) ends with the weights of the last
    epoch of the schedule: validation data chooses hyperparameters, never the epoch, so no model is
    scored at a lucky epoch. ``keep="best"`` (for teachers) keeps the epoch with the highest
    ``score(epoch_row)`` (default: validation accuracy).

    Validation runs every ``eval_every`` epochs and after the last one (a history row per
    validation; its ``train_loss`` and ``train_accuracy``, on the training batches as they were
    seen, average the steps since the previous row). ``train_loss`` is the objective's value: under
    :func:`kdutils.losses.kd_objective` it is Hinton's cross-entropy form, larger than the KL form
    by ``alpha * T^2`` times the teacher's entropy. Its parts are logged apart, as other libraries
    log them: ``hard_loss`` (cross-entropy with the labels, of the class head) and, under
    ``kd_objective``, ``soft_loss`` (``T^2 KL(teacher || student)``), so that
    ``(1 - alpha) * hard_loss + alpha * soft_loss`` is :func:`kdutils.losses.distillation_loss`.

    Each step is forward, loss, backward, step. ``augment(batch)`` (e.g.
    :class:`kdutils.augment.Augmentation`) transforms each batch before the forward pass, drawing
    from torch's global generator, which ``seed`` seeds; ``seed`` also orders the batches. It does
    not initialise the model: seed before building it (:func:`seed_everything`).
    ``objective(student_logits, y, teacher_logits)`` gets the teacher's logits for the batch (from
    the cache when ``teacher`` is a :class:`TeacherCache`, else from a forward pass of the teacher
    on the augmented batch) or ``None``. An objective with a closed-form gradient
    (``teacher_targets`` and ``value_and_grad``, :class:`~kdutils.losses.KDObjective`) gets its
    per-image targets instead, built once from a cache or per batch from a live teacher, and backward
    starts from its gradient at the logits (see ``_LossStep``).
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
    if num_workers < 0:
        raise ValueError(f"num_workers must be >= 0; got {num_workers!r}")
    for name, data in (("train", train), ("val", val)):
        if isinstance(data, Split):
            _check_float(f"{name}.x", data.x)
        elif not isinstance(data, (Dataset, DataLoader)):
            raise TypeError(
                f"{name} must be a kdutils Split, a torch Dataset of (image, label) pairs or a "
                f"DataLoader; got {type(data).__name__}"
            )
    in_memory = isinstance(train, Split)
    if isinstance(teacher, TeacherCache) and augment is not None:
        raise ValueError(
            "a TeacherCache holds the teacher's logits on fixed images, but augment= changes the "
            "images at every step, so the cached logits would be stale: pass the teacher model "
            "itself (it then labels each augmented batch), or train on a fixed bank of augmented "
            "views (kdutils.augment.view_bank) and cache the teacher's logits on that"
        )
    rank, world = distributed_context()
    if world > 1 and not in_memory:
        raise ValueError(
            "under torchrun fit shards in-memory Splits; load the dataset into a Split "
            "(kdutils.load_splits) or train it in one process"
        )
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
        cache.check(train)
    if teacher_model is not None:
        teacher_model.to(device).eval()
    labels = train.y if in_memory else cache.labels if cache is not None else None
    loss_of = _LossStep(objective, cache, teacher_model, labels, device)

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
    if in_memory:
        train_x, train_y = (
            train.x.to(device),
            train.y.to(device),
        )  # on a GPU the data moves once, not every batch
        steps_per_epoch = math.ceil(len(train) / batch_size)
    else:
        loader = indexed_loader(train, batch_size, True, generator, num_workers)
        steps_per_epoch = len(loader)

    def epoch_batches():
        if in_memory:
            yield from batches(
                train_x,
                train_y,
                batch_size,
                shuffle=True,
                generator=generator,
                shard=(rank, world),
            )
            return
        for idx, xb, yb in loader:
            _check_float("train", xb)
            yield idx, xb.to(device, non_blocking=True), yb.to(device)

    scheduler = lr_schedule(opt, schedule, total_steps=epochs * steps_per_epoch)
    step_model = model
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel

        step_model = DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None
        )
    history, best_state, best_score = History(), None, float("-inf")
    start = time.perf_counter()
    bar = tqdm(range(epochs), desc=desc, disable=not progress or rank != 0, leave=False)
    tic, cpu_tic, total, count = time.perf_counter(), time.thread_time(), 0.0, 0
    # summed on the device, no sync
    hits = torch.zeros((), dtype=torch.long, device=device)
    for epoch in bar:
        model.train()
        for idx, xb, yb in epoch_batches():
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
        parts = loss_of.parts(count)
        # every rank: identical weights, identical numbers
        if isinstance(val, Split):
            val_logits, val_y = predict_logits(model, val.x, device=device), val.y
        else:
            val_logits, val_y = predict_dataset(
                model,
                val,
                batch_size=batch_size,
                device=device,
                num_workers=num_workers,
            )
        if not torch.isfinite(val_logits).all():
            raise FloatingPointError(
                f"{desc} epoch {epoch + 1}: non-finite logits on the validation images "
                "(NaN or inf in the inputs or the weights); check val.x"
            )
        row = {
            "epoch": epoch + 1,
            "train_loss": total / count,
            **parts,
            "train_accuracy": correct / count,
            "val_loss": F.cross_entropy(val_logits, val_y).item(),
            "val_accuracy": accuracy(val_logits, val_y),
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
        loss_of.reset()
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    history.seconds = time.perf_counter() - start
    return history
