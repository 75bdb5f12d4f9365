"""Sweeps: many small, independent trainings spread over processes, one thread each, same results at any width."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import random
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

# Large read-only objects (data, teacher logits) reach forked workers through this dict, not pickling.
_SHARED: dict[str, Any] = {}


# The process that holds a CPU slot now (None: none): a slot taken again in the same process is
# the one it holds (a sweep job that evaluates its model), while a forked child takes its own.
_SLOT_HOLDER: int | None = None
# Set in sweep workers (see _yield_to_the_caller): they give way to notebooks waiting for a slot.
_SWEEP_WORKER = False


@contextlib.contextmanager
def cpu_slot(slots: str | None = None) -> Iterator[None]:
    """Hold one of the CPU slots in the folder ``slots`` (default ``$KD_CPU_SLOTS``; none: no wait).

    Several processes that each fork sweep workers (notebooks run side by side) share the cores
    through these slots, one lock file per core: a job computes only while it holds a slot, so
    no more jobs run than there are cores (time-sharing a core between jobs costs about 10% of
    the CPU time in cache misses). A slot is released when its job ends, or its process dies.
    Re-entrant: inside a slot this process already holds, it does not wait for another.

    A notebook's own work (a teacher, a cache, an evaluation) is its critical path: while a
    notebook waits for a slot it leaves a ``want-<pid>`` marker, and sweep workers take no free
    slot until it has one (without it, a worker that ends a job takes the next one on the slot
    it just freed, and a notebook can wait for a slot for many minutes).
    """
    global _SLOT_HOLDER
    slots = slots if slots is not None else os.environ.get("KD_CPU_SLOTS")
    if not slots or _SLOT_HOLDER == os.getpid():
        yield
        return
    import fcntl  # POSIX only, like the runner's slots

    folder = Path(slots)
    files = sorted(folder.glob("slot-*"))
    if not files:
        raise FileNotFoundError(
            f"KD_CPU_SLOTS={slots!r} holds no slot-* files; unset it or create them"
        )
    want = folder / f"want-{os.getpid()}"
    if not _SWEEP_WORKER:
        want.touch()
    try:
        while True:
            if _SWEEP_WORKER and _notebook_waiting(folder):
                time.sleep(0.05)
                continue
            for file in random.sample(files, len(files)):
                handle = open(file, "a")  # noqa: SIM115 - held until the job ends
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    handle.close()
                    continue
                want.unlink(missing_ok=True)
                _SLOT_HOLDER = os.getpid()
                try:
                    yield
                finally:
                    _SLOT_HOLDER = None
                    fcntl.flock(handle, fcntl.LOCK_UN)
                    handle.close()
                return
            time.sleep(0.01)
    finally:
        want.unlink(missing_ok=True)


def _notebook_waiting(folder: Path) -> bool:
    """Whether a live process other than a sweep worker waits for a slot in ``folder`` (markers
    of processes that died are removed)."""
    for marker in folder.glob("want-*"):
        try:
            os.kill(int(marker.name.removeprefix("want-")), 0)
        except ProcessLookupError:
            marker.unlink(missing_ok=True)
            continue
        except PermissionError:  # alive, another user's
            return True
        except ValueError:  # not a marker of ours
            continue
        return True
    return False


def make_cpu_slots(folder: Path, count: int) -> Path:
    """Create ``count`` slot files in ``folder`` for :func:`cpu_slot`; returns the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        (folder / f"slot-{i}").touch()
    return folder


def _single_threaded(fn: Callable[[dict, dict], Any], job: dict) -> Any:
    previous = torch.get_num_threads()
    torch.set_num_threads(
        1
    )  # one thread per job: the same numbers whether jobs run inline or in parallel
    try:
        with cpu_slot():
            return fn(job, _SHARED)
    finally:
        torch.set_num_threads(previous)


def _yield_to_the_caller() -> None:
    # Workers run at a lower priority than the processes that fork them: when several notebooks
    # share the cores, the one-off work on their critical path (a teacher being trained, a cache
    # being built) goes first, and the sweeps fill the gaps; a worker also leaves a free CPU
    # slot to a notebook waiting for one (see cpu_slot). Results do not depend on it.
    global _SWEEP_WORKER
    _SWEEP_WORKER = True
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
