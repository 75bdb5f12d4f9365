"""Sweeps: the same results inline and in forked workers."""

import pytest
import torch


def _square_job(job, shared):
    return {
        "value": job["x"] ** 2 + shared["offset"],
        "threads": torch.get_num_threads(),
    }


def _pid_job(job, shared):
    import os

    return os.getpid()


def test_run_jobs_gives_the_same_results_in_parallel_and_inline():
    from kdutils.sweep import run_jobs

    jobs = [{"x": x} for x in range(5)]
    parallel = run_jobs(_square_job, jobs, {"offset": 1}, processes=2, progress=False)
    inline = run_jobs(_square_job, jobs, {"offset": 1}, processes=1, progress=False)
    assert parallel == inline == [{"value": x * x + 1, "threads": 1} for x in range(5)]
    with pytest.raises(ValueError, match="processes must be >= 1"):
        run_jobs(_square_job, jobs, {}, processes=-1)


def test_run_jobs_forks_on_the_cpu_and_stays_in_this_process_for_cuda(monkeypatch):
    import os

    from kdutils.sweep import run_jobs

    jobs = [{}] * 4
    assert set(run_jobs(_pid_job, jobs, {}, processes=2, progress=False)).isdisjoint(
        {os.getpid()}
    )
    monkeypatch.setenv(
        "KD_WORKERS", "1"
    )  # a notebook given one core when several run side by side: no workers
    assert set(run_jobs(_pid_job, jobs, {}, progress=False)) == {os.getpid()}
    monkeypatch.setenv("KD_WORKERS", "")  # set but empty: as if unset, one per core
    assert len(run_jobs(_pid_job, jobs, {}, progress=False)) == 4
    # CUDA state does not survive fork: with a GPU the jobs run here (no GPU is touched by this job)
    assert set(
        run_jobs(_pid_job, jobs, {}, processes=2, progress=False, device="cuda")
    ) == {os.getpid()}


def _niceness_job(job, shared):
    import os

    return os.nice(0)


def test_forked_workers_yield_to_the_notebook_that_forked_them():
    import os

    from kdutils.sweep import run_jobs

    here = os.nice(0)
    workers = run_jobs(_niceness_job, [{}] * 2, {}, processes=2, progress=False)
    assert all(n == min(19, here + 5) for n in workers)
    assert run_jobs(_niceness_job, [{}], {}, processes=1, progress=False) == [here]


def _timed_job(job, shared):
    import time

    start = time.monotonic()
    time.sleep(0.3)
    return start, time.monotonic()


def test_cpu_slots_cap_how_many_jobs_compute_at_once(tmp_path, monkeypatch):
    """Workers of several notebooks share the cores: with one slot, two workers take turns."""
    from kdutils.sweep import cpu_slot, make_cpu_slots, run_jobs

    def overlaps(spans):
        spans = sorted(spans)
        return any(b[0] < a[1] - 0.01 for a, b in zip(spans, spans[1:]))

    jobs = [{}] * 4
    monkeypatch.delenv("KD_CPU_SLOTS", raising=False)
    assert overlaps(run_jobs(_timed_job, jobs, {}, processes=2, progress=False))
    monkeypatch.setenv("KD_CPU_SLOTS", str(make_cpu_slots(tmp_path / "one", 1)))
    assert not overlaps(run_jobs(_timed_job, jobs, {}, processes=2, progress=False))
    monkeypatch.setenv("KD_CPU_SLOTS", str(make_cpu_slots(tmp_path / "two", 2)))
    assert overlaps(run_jobs(_timed_job, jobs, {}, processes=2, progress=False))
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="holds no slot-\\* files"):
        with cpu_slot(str(tmp_path / "empty")):
            pass


def _evaluates_inside_its_job(job, shared):
    """A sweep job that evaluates a model: predict_logits takes a slot inside the job's."""
    import torch

    from kdutils.evaluate import predict_logits

    return predict_logits(torch.nn.Linear(3, 2), torch.zeros(4, 3)).shape[0]


def test_cpu_slot_is_reentrant_and_evaluation_waits_for_one(tmp_path, monkeypatch):
    """With one slot: a job that evaluates inside its slot does not wait on itself, and
    evaluating in the notebook waits while another process holds the slot."""
    import fcntl
    import threading

    import torch

    from kdutils.evaluate import predict_logits
    from kdutils.sweep import cpu_slot, make_cpu_slots, run_jobs

    slots = make_cpu_slots(tmp_path / "one", 1)
    monkeypatch.setenv("KD_CPU_SLOTS", str(slots))
    assert run_jobs(_evaluates_inside_its_job, [{}] * 2, {}, progress=False) == [4, 4]
    with cpu_slot(), cpu_slot():  # nested in one process: no deadlock
        pass
    other = open(slots / "slot-0", "a")  # another holder, as a second notebook would be
    fcntl.flock(other, fcntl.LOCK_EX)
    done = threading.Event()
    thread = threading.Thread(
        target=lambda: (
            predict_logits(torch.nn.Linear(3, 2), torch.zeros(4, 3)),
            done.set(),
        )
    )
    thread.start()
    assert not done.wait(0.3)  # waits for the slot
    fcntl.flock(other, fcntl.LOCK_UN)
    other.close()
    assert done.wait(5)
    thread.join()


def _started_at(job, shared):
    import time

    return time.monotonic()


def test_sweep_workers_leave_free_slots_to_a_waiting_notebook(tmp_path, monkeypatch):
    """While a notebook waits for a slot (its want- marker), workers take none; a marker left
    by a process that died is cleared."""
    import os
    import subprocess
    import sys
    import threading
    import time

    from kdutils import sweep

    slots = sweep.make_cpu_slots(tmp_path / "slots", 2)
    monkeypatch.setenv("KD_CPU_SLOTS", str(slots))
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    (slots / f"want-{dead.stdout.strip()}").touch()
    assert not sweep._notebook_waiting(slots)
    assert not (slots / f"want-{dead.stdout.strip()}").exists()
    marker = slots / f"want-{os.getpid()}"
    marker.touch()
    assert sweep._notebook_waiting(slots)
    released = []

    def release():
        time.sleep(0.4)
        released.append(time.monotonic())
        marker.unlink()

    thread = threading.Thread(target=release)
    thread.start()
    starts = sweep.run_jobs(_started_at, [{}] * 2, {}, processes=2, progress=False)
    thread.join()
    assert min(starts) >= released[0]
    with (
        sweep.cpu_slot()
    ):  # a notebook takes a slot at once, and leaves no marker behind
        assert not list(slots.glob("want-*"))
