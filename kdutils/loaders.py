"""Batches for the training loop: in-memory tensor batches, and DataLoaders whose batches carry dataset indices."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, IterableDataset, Sampler

from .data import Split

# what fit trains and validates on: in-memory tensors (the fast path), or images streamed from a
# Dataset of (image, label) pairs, or from a DataLoader over one
TrainingData = Split | Dataset | DataLoader


def batches(
    x: Tensor,
    y: Tensor,
    batch_size: int,
    *,
    shuffle: bool = False,
    generator: torch.Generator | None = None,
    shard: tuple[int, int] = (0, 1),
) -> Iterator[tuple[Tensor, Tensor, Tensor]]:
    """Yield ``(indices, x, y)`` mini-batches from in-memory tensors (no DataLoader, no copies per
    item).

    ``shard=(rank, world_size)``: every process draws the same global batches (same generator seed)
    and keeps every ``world_size``-th item of each, as a DistributedSampler would."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1; got {batch_size!r}")
    n = len(y)
    order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
    for start in range(0, n, batch_size):
        idx = order[start : start + batch_size][shard[0] :: shard[1]]
        # index_select, not x[idx]: several times faster for a batch of images on the CPU
        yield (
            idx,
            x.index_select(0, idx.to(x.device)),
            y.index_select(0, idx.to(y.device)),
        )


def dataset_of(data: Dataset | DataLoader) -> Dataset:
    """The map-style Dataset behind ``data``; a TypeError for an IterableDataset."""
    dataset = data.dataset if isinstance(data, DataLoader) else data
    if isinstance(dataset, IterableDataset):
        raise TypeError(
            "fit needs a map-style Dataset (len() and [index]): an IterableDataset has no "
            "index to cache teacher logits by or to shuffle; load it into a Dataset or a Split"
        )
    return dataset


def as_pair(batch: object, where: str) -> tuple[Tensor, Tensor]:
    """A batch or item as ``(images, labels)``; a TypeError saying what it is otherwise."""
    if isinstance(batch, (tuple, list)) and len(batch) >= 2:
        return batch[0], batch[1]
    dicts = isinstance(batch, Mapping)
    got = f"dicts with keys {sorted(batch)}" if dicts else f"a {type(batch).__name__}"
    raise TypeError(
        f"{where} yields {got}; kdutils expects (image, label) pairs: have the dataset "
        "return a tuple, e.g. (item['pixel_values'], item['labels']), or give the "
        "DataLoader a collate_fn that does"
    )


def check_float(name: str, x: Tensor) -> None:
    """Raise a ValueError unless ``x`` holds floating-point images."""
    if not isinstance(x, Tensor) or not x.is_floating_point():
        raise ValueError(
            f"{name} holds {getattr(x, 'dtype', type(x).__name__)} images; kdutils expects "
            "floating-point images (in [0, 1] for kdutils' loaders): e.g. x.float() / 255"
        )


def check_batch(name: str, x: Tensor, y: Tensor) -> None:
    """A clear error unless ``x`` holds float images with a channel axis (:func:`check_float`)
    and ``y`` one integer class index per image."""
    check_float(name, x)
    y = torch.as_tensor(y)
    if x.ndim == 3:
        why = f"images have shape {tuple(x.shape)}: N x H x W, no channel axis"
        fix = "N x C x H x W (a convolution reads N as channels): x.unsqueeze(1)"
    elif y.ndim != 1 or y.is_floating_point() or len(y) != len(x):
        why = f"labels have shape {tuple(y.shape)} and dtype {y.dtype} for {len(x)} images"
        fix = "one int64 class index per image: one-hot labels become indices with y.argmax(1)"
    else:
        return
    raise ValueError(f"{name} {why}; kdutils expects {fix}")


def check_training_data(name: str, data: object) -> None:
    """Raise a clear error unless ``data`` is something fit can train or validate on."""
    if isinstance(data, Split):
        check_batch(name, data.x, data.y)
    elif not isinstance(data, (Dataset, DataLoader)):
        raise TypeError(
            f"{name} must be a kdutils Split, a torch Dataset of (image, label) pairs or a "
            f"DataLoader; got {type(data).__name__}"
        )


class _Indexed(Dataset):
    """A dataset of ``(image, label)`` pairs whose items also carry their index, by which a
    :class:`~kdutils.cache.TeacherCache` looks the teacher's logits up."""

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> tuple[int, Tensor, Tensor]:
        return index, *as_pair(self.dataset[index], "the dataset")


class _CollateWithIndex:
    """A DataLoader's own ``collate_fn`` applied to the pairs, with the indices collated beside."""

    def __init__(self, collate: Callable) -> None:
        self.collate = collate

    def __call__(self, items: list) -> tuple[Tensor, Tensor, Tensor]:
        indices = torch.tensor([index for index, _, _ in items])
        x, y = as_pair(self.collate([(x, y) for _, x, y in items]), "the DataLoader")
        return indices, x, y


def indexed_loader(
    data: Dataset | DataLoader, batch_size: int, generator: torch.Generator
) -> DataLoader:
    """A DataLoader of shuffled ``(indices, images, labels)`` batches over ``data``.

    A Dataset is drawn in the order :func:`batches` gives the same images in memory, so that
    streaming changes no number; a DataLoader keeps its own batches, sampler, workers and collate
    function, with each batch's dataset indices added."""
    dataset = _Indexed(dataset_of(data))
    if isinstance(data, DataLoader):
        keep = "batch_sampler num_workers pin_memory worker_init_fn generator".split()
        collate = _CollateWithIndex(data.collate_fn)
        return DataLoader(
            dataset, collate_fn=collate, **{k: getattr(data, k) for k in keep}
        )
    # the loader's own generator (the workers' seeds) is another, so as to leave this one alone
    order = _PermutedBatches(len(dataset), batch_size, generator)
    return DataLoader(dataset, batch_sampler=order, generator=torch.Generator())


class _PermutedBatches(Sampler):
    """Each epoch, a fresh permutation of ``range(n)`` cut into batches, as :func:`batches` cuts it."""

    def __init__(self, n: int, size: int, generator: torch.Generator) -> None:
        self.n, self.size, self.generator = n, size, generator

    def __len__(self) -> int:
        return math.ceil(self.n / self.size)

    def __iter__(self) -> Iterator[list[int]]:
        order = torch.randperm(self.n, generator=self.generator)
        yield from (
            order[i : i + self.size].tolist() for i in range(0, self.n, self.size)
        )


class ShuffledBatches:
    """An epoch's shuffled ``(indices, images, labels)`` batches of a training set, on ``device``.

    A :class:`~kdutils.data.Split` is batched by index in memory (under torchrun, each process keeps
    its share of every global batch); a Dataset or DataLoader is streamed (one process only)."""

    def __init__(
        self,
        data: TrainingData,
        batch_size: int,
        generator: torch.Generator,
        device: torch.device,
        shard: tuple[int, int] = (0, 1),
    ) -> None:
        check_training_data("train", data)
        if batch_size % shard[1]:
            raise ValueError(
                f"batch_size {batch_size} must be a multiple of the {shard[1]} processes"
            )
        self.in_memory = isinstance(data, Split)
        if shard[1] > 1 and not self.in_memory:
            raise ValueError(
                "under torchrun fit shards in-memory Splits; load the dataset into a Split "
                "(kdutils.load_splits) or train it in one process"
            )
        self.batch_size, self.generator = batch_size, generator
        self.device, self.shard = device, shard
        if self.in_memory:  # on a GPU the data moves once, not every batch
            self.x, self.y = data.x.to(device), data.y.to(device)
        else:
            self.loader = indexed_loader(data, batch_size, generator)

    def __len__(self) -> int:
        if self.in_memory:
            return math.ceil(len(self.y) / self.batch_size)
        return len(self.loader)

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor, Tensor]]:
        if self.in_memory:
            order = {"shuffle": True, "generator": self.generator, "shard": self.shard}
            yield from batches(self.x, self.y, self.batch_size, **order)
            return
        for idx, x, y in self.loader:
            check_batch("train", x, y)
            yield idx, x.to(self.device, non_blocking=True), y.to(self.device)
