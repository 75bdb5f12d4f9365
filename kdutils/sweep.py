"""Sweeps: many small, independent trainings spread over processes, one thread each, same results at any width."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import torch
from tqdm import tqdm

# Large read-only objects (data, teacher logits) reach forked workers through this dict, not pickling.
_SHARED: dict[str, Any] = {}


def _single_threaded(fn: Callable[[dict, dict], Any], job: dict) -> Any:
    previous = torch.get_num_threads()
    torch.set_num_threads(
        1
    )  # one thread per job: the same numbers whether jobs run inline or in parallel
    try:
        return fn(job, _SHARED)
    finally:
        torch.set_num_threads(previous)


def _yield_to_the_caller() -> None:
    # Workers run at a lower priority than the processes that fork them: when several notebooks
    # share the cores, the one-off work on their critical path (a teacher being trained, a cache
    # being built) goes first, and the sweeps fill the gaps. Results do not depend on it.
    with contextlib.suppress(OSError):
        os.nice(5)


def run_jobs(
    fn: Callable[[dict, dict], Any],
    jobs: list[dict],
    shared: dict[str, Any],
    processes: int | None = None,
    progress: bool = True,
    desc: str = "sweep",
    device: str | torch.device = "cpu",
) -> list[Any]:
    """Return ``[fn(job, shared) for job in jobs]``, computed by ``processes`` forked workers (default:
    ``$KD_WORKERS``, which the runner sets to the notebook's share of the cores, or one per core).

    ``fn`` must be a module-level function. Each job runs single-threaded, so results do not depend
    on how many processes are used; where ``fork`` is unavailable the jobs run in this process. On a
    ``cuda`` device the jobs run one after another in this process: CUDA does not survive a fork,
    and the GPU, not the CPU cores, is what runs each job in parallel.
    """
    if processes is not None and processes < 1:
        raise ValueError(f"processes must be >= 1; got {processes!r}")
    default = int(os.environ.get("KD_WORKERS") or os.cpu_count() or 1)  # "" is unset
    processes = 1 if torch.device(device).type == "cuda" else processes or default
    _SHARED.clear()
    _SHARED.update(shared)
    bar = tqdm(total=len(jobs), desc=desc, disable=not progress, leave=False)
    try:
        if (
            processes == 1
            or len(jobs) < 2
            or "fork" not in multiprocessing.get_all_start_methods()
        ):
            results = []
            for job in jobs:
                results.append(_single_threaded(fn, job))
                bar.update()
            return results
        with ProcessPoolExecutor(
            max_workers=min(processes, len(jobs)),
            mp_context=multiprocessing.get_context("fork"),
            initializer=_yield_to_the_caller,
        ) as pool:
            futures = [pool.submit(_single_threaded, fn, job) for job in jobs]
            results = []
            for future in futures:
                results.append(future.result())
                bar.update()
            return results
    finally:
        bar.close()
        _SHARED.clear()
