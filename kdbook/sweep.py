"""Sweeps: many small, independent trainings spread over processes, one thread each, same results at any width."""

from __future__ import annotations

import contextlib
import fcntl
import multiprocessing
import os
import random
import resource
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

# Large read-only objects (data, teacher logits) reach forked workers through this dict, not pickling.
_SHARED: dict[str, Any] = {}


@contextlib.contextmanager
def cpu_slot(slots: str | None = None) -> Iterator[None]:
    """Hold one of the CPU slots in the folder ``slots`` (default ``$KD_CPU_SLOTS``; none: no wait).

    Several processes that each fork sweep workers (notebooks run side by side) share the cores
    through these slots, one lock file per core: a job computes only while it holds a slot, so
    no more jobs run than there are cores (jobs time-sharing a core lose CPU time to cache
    misses). A slot is released when its job ends, or its process dies.
    """
    slots = slots if slots is not None else os.environ.get("KD_CPU_SLOTS")
    if not slots:
        yield
        return
    files = sorted(Path(slots).glob("slot-*"))
    if not files:
        raise FileNotFoundError(
            f"KD_CPU_SLOTS={slots!r} holds no slot-* files; unset it or create them"
        )
    while True:
        for file in random.sample(files, len(files)):
            handle = open(file, "a")  # noqa: SIM115 - held until the job ends
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                continue
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
                handle.close()
            return
        time.sleep(0.05)


def make_cpu_slots(folder: Path, count: int) -> Path:
    """Create ``count`` slot files in ``folder`` for :func:`cpu_slot`; returns the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        (folder / f"slot-{i}").touch()
    return folder


def _single_threaded(fn: Callable[[dict, dict], Any], job: dict) -> Any:
    previous = torch.get_num_threads()
    # one thread per job: the same numbers whether jobs run inline or in parallel
    torch.set_num_threads(1)
    try:
        with cpu_slot():
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
    started = time.perf_counter(), cpu_seconds()
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
        _log_sweep(desc, len(jobs), started)


def cpu_seconds() -> float:
    """CPU seconds of this process and of its children that have ended (the sweep's workers)."""
    own, ended = (
        resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
    )
    return own.ru_utime + own.ru_stime + ended.ru_utime + ended.ru_stime


def _log_sweep(desc: str, jobs: int, started: tuple[float, float]) -> None:
    # the runner names a file per notebook: where a build's CPU time went, sweep by sweep
    log = os.environ.get("KD_SWEEP_LOG")
    if log:
        wall, cpu = time.perf_counter() - started[0], cpu_seconds() - started[1]
        with open(log, "a") as f:
            f.write(f"{desc}\t{jobs} jobs\t{wall:.1f} s\t{cpu:.1f} CPU-s\n")


def _call_page_function(call: dict, shared: dict) -> Any:
    return shared["function"](**call)


def sweep(
    function: Callable[..., Any],
    calls: list[dict],
    desc: str = "sweep",
    device: str | torch.device = "cpu",
) -> list[Any]:
    """Return ``[function(**call) for call in calls]``, spread over forked workers like :func:`run_jobs`.

    ``function`` may be defined on the page (a notebook cell): workers are forked, so they find it
    and everything it reads already in their memory, and nothing but ``call`` is pickled.
    """
    return run_jobs(
        _call_page_function, calls, {"function": function}, desc=desc, device=device
    )
