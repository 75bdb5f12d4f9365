"""Augmentation on in-memory image batches: per-image random shifts, flips, erasing and mixup, and view banks."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from .data import Split


def random_shift(
    x: Tensor, max_shift: int, generator: torch.Generator | None = None
) -> Tensor:
    """Each image of ``x`` (N x C x H x W) moved by its own random offset of up to ``max_shift``
    pixels in each direction, the uncovered border filled with zeros (Hinton et al. 2015's
    "jitter")."""
    if max_shift < 0:
        raise ValueError(f"max_shift must be >= 0; got {max_shift!r}")
    if max_shift == 0:
        return x
    n, _, h, w = x.shape
    offsets = torch.randint(
        0, 2 * max_shift + 1, (2, n), generator=generator, device="cpu"
    ).to(x.device)
    padded = F.pad(x, (max_shift,) * 4)
    rows = offsets[0, :, None] + torch.arange(h, device=x.device)  # n x h
    cols = offsets[1, :, None] + torch.arange(w, device=x.device)  # n x w
    batch = torch.arange(n, device=x.device)[:, None, None]
    # advanced indexing puts the indexed dims first: n x h x w x C, back to n x C x h x w
    out = padded.permute(0, 2, 3, 1)[batch, rows[:, :, None], cols[:, None, :]]
    return out.permute(0, 3, 1, 2).contiguous(memory_format=_memory_format(x))


def random_hflip(
    x: Tensor, p: float = 0.5, generator: torch.Generator | None = None
) -> Tensor:
    """Each image of ``x`` mirrored left-right with probability ``p``, its own draw."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p must be in [0, 1]; got {p!r}")
    flip = torch.rand(len(x), generator=generator).to(x.device) < p
    return torch.where(flip[:, None, None, None], x.flip(-1), x)


def random_erasing(
    x: Tensor,
    p: float = 0.25,
    scale: tuple[float, float] = (0.02, 0.33),
    generator: torch.Generator | None = None,
) -> Tensor:
    """Each image of ``x``, with probability ``p``, gets one random rectangle of ``scale`` of its
    area set to zero (Zhong et al. 2020; DeiT uses it with p = 0.25)."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p must be in [0, 1]; got {p!r}")
    n, _, h, w = x.shape
    area = torch.empty(n).uniform_(*scale, generator=generator) * h * w
    # log(0.3), log(1/0.3)
    aspect = torch.exp(torch.empty(n).uniform_(-1.2040, 1.2040, generator=generator))
    eh = (area * aspect).sqrt().round().clamp(1, h).long()
    ew = (area / aspect).sqrt().round().clamp(1, w).long()
    top = (torch.rand(n, generator=generator) * (h - eh + 1)).long()
    left = (torch.rand(n, generator=generator) * (w - ew + 1)).long()
    erase = torch.rand(n, generator=generator) < p
    rows, cols = torch.arange(h), torch.arange(w)
    inside_rows = (rows >= top[:, None]) & (rows < (top + eh)[:, None])  # n x h
    inside_cols = (cols >= left[:, None]) & (cols < (left + ew)[:, None])  # n x w
    mask = erase[:, None, None] & inside_rows[:, :, None] & inside_cols[:, None, :]
    return x.masked_fill(mask[:, None].to(x.device), 0.0)


def _memory_format(x: Tensor) -> torch.memory_format:
    last = x.ndim == 4 and x.is_contiguous(memory_format=torch.channels_last)
    return (
        torch.channels_last
        if last and not x.is_contiguous()
        else torch.contiguous_format
    )


@dataclass(frozen=True)
class Augmentation:
    """A per-image augmentation of a batch: shifts of up to ``shift`` px, then flips, then erasing.

    Every image gets its own random draw (a torchvision transform applied to a whole batch tensor
    makes one draw for all of it). Draws come from ``generator``, else from torch's global generator
    (which :func:`kdutils.train.fit` seeds)."""

    shift: int = 0
    hflip: bool = False
    erase: float = 0.0

    def __call__(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        x = random_shift(x, self.shift, generator)
        if self.hflip:
            x = random_hflip(x, 0.5, generator)
        if self.erase:
            x = random_erasing(x, self.erase, generator=generator)
        return x

    def describe(self) -> str:
        parts = [f"shifts of up to {self.shift} px"] if self.shift else []
        parts += ["horizontal flips"] if self.hflip else []
        parts += [f"random erasing (p = {self.erase:g})"] if self.erase else []
        return ", ".join(parts) or "none"


@dataclass(frozen=True)
class Mixup:
    """``augment`` (if any), then each image of the batch blended with another image of it, with its
    own mixing weight drawn uniformly from [0, 1] (mixup, Zhang et al. 2018).

    The labels are not mixed: this is for distillation by function matching (Beyer et al. 2022),
    where the student learns the teacher's outputs on the blended images and no labels are used."""

    augment: Callable[..., Tensor] | None = None

    def __call__(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        if self.augment is not None:
            x = self.augment(x, generator)
        weight = torch.rand(len(x), generator=generator).to(x.device, x.dtype)
        partner = torch.randperm(len(x), generator=generator).to(x.device)
        weight = weight.view(-1, *([1] * (x.ndim - 1)))
        return weight * x + (1 - weight) * x[partner]


def view_bank(
    split: Split,
    views: int,
    augment: Callable[..., Tensor],
    *,
    seed: int = 0,
    batch_size: int = 4096,
) -> Split:
    """``views`` augmented copies of every image of ``split``, drawn once and fixed: a bank.

    Because the bank does not change, a teacher's logits on it can be cached
    (:class:`kdutils.cache.TeacherCache`) and the student still sees new views of each image: an
    epoch over the bank is ``views`` passes over the data, each image in a different view, with the
    teacher labelling the very view the student sees (Beyer et al. 2022's consistency, at a fixed
    budget of views). Train the no-views control for ``views`` times the epochs to match the steps.
    """
    if views < 1:
        raise ValueError(f"views must be >= 1; got {views!r}")
    generator = torch.Generator().manual_seed(seed)
    copies = [
        augment(split.x[i : i + batch_size], generator)
        for _ in range(views)
        for i in range(0, len(split), batch_size)
    ]
    return Split(torch.cat(copies), split.y.repeat(views))
