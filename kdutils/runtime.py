"""Where and how reproducibly a run happens: seeds, devices, mixed precision, torchrun's process group."""

from __future__ import annotations

import contextlib
import random

import numpy as np
import torch


def seed_everything(seed: int, deterministic: bool = False) -> None:
    """Seed Python, NumPy and torch; with ``deterministic`` also force deterministic torch kernels
    (on a GPU, start the process with ``CUBLAS_WORKSPACE_CONFIG=:4096:8``, which cuBLAS needs for
    that; torch says so if it is missing)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if deterministic:
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
        device = None
    if device is None or device.type not in ("cpu", "cuda"):
        raise ValueError(f"unknown device {preferred!r}; {allowed}")
    if device.type == "cpu":
        return device
    if not torch.cuda.is_available():
        raise RuntimeError(
            f"device {preferred!r} needs a CUDA GPU and none is visible; "
            "use device='cpu', or device='auto' (a GPU when there is one)"
        )
    if device.index is not None and device.index >= torch.cuda.device_count():
        raise ValueError(
            f"device {preferred!r}: only {torch.cuda.device_count()} CUDA device(s) visible"
        )
    return device


def autocast(device: torch.device) -> contextlib.AbstractContextManager:
    """bf16 autocast on a CUDA GPU with native bf16 (Ampere or newer; bf16 needs no gradient
    scaler); else nothing."""
    if device.type == "cuda" and torch.cuda.get_device_capability(device) >= (8, 0):
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def distributed_context() -> tuple[int, int]:
    """``(rank, world_size)`` of the process group torchrun set up, or ``(0, 1)`` in a single process."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


def all_ranks_sum(values: list[float], device: torch.device) -> list[float]:
    """``values`` summed over torchrun's processes (unchanged in a single process)."""
    if distributed_context()[1] == 1:
        return values
    sums = torch.tensor(values, dtype=torch.float64, device=device)
    torch.distributed.all_reduce(sums)
    return sums.tolist()
