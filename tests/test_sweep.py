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
    from kdbook.sweep import run_jobs

    jobs = [{"x": x} for x in range(5)]
    parallel = run_jobs(_square_job, jobs, {"offset": 1}, processes=2, progress=False)
    inline = run_jobs(_square_job, jobs, {"offset": 1}, processes=1, progress=False)
    assert parallel == inline == [{"value": x * x + 1, "threads": 1} for x in range(5)]
    with pytest.raises(ValueError, match="processes must be >= 1"):
        run_jobs(_square_job, jobs, {}, processes=-1)


def test_run_jobs_forks_on_the_cpu_and_stays_in_this_process_for_cuda(monkeypatch):
    import os

    from kdbook.sweep import run_jobs

    jobs = [{}] * 4
    assert set(run_jobs(_pid_job, jobs, {}, processes=2, progress=False)).isdisjoint(
        {os.getpid()}
    )
    # a notebook given one core when several run side by side: no workers
    monkeypatch.setenv("KD_WORKERS", "1")
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

    from kdbook.sweep import run_jobs

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
    from kdbook.sweep import cpu_slot, make_cpu_slots, run_jobs

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


def test_sweep_runs_a_function_that_could_not_be_pickled(monkeypatch):
    from kdbook.sweep import sweep

    monkeypatch.setenv("KD_WORKERS", "2")  # forked workers, not the inline path
    offset = 10
    # a closure: a sweep must find it through the fork, not by pickling it
    add = lambda x, y=0: x + y + offset  # noqa: E731
    calls = [{"x": i, "y": i} for i in range(5)]
    assert sweep(add, calls) == [2 * i + 10 for i in range(5)]


def _busy_job(job, shared):
    import time

    end = time.process_time() + job["seconds"]
    while time.process_time() < end:
        pass
    return job["seconds"]


@pytest.mark.parametrize("processes", [1, 2])
def test_a_sweep_logs_the_cpu_time_of_its_workers(tmp_path, monkeypatch, processes):
    from kdbook.sweep import run_jobs

    log = tmp_path / "sweeps.tsv"
    monkeypatch.setenv("KD_SWEEP_LOG", str(log))
    jobs = [{"seconds": 0.2}] * 3
    run_jobs(_busy_job, jobs, {}, processes=processes, progress=False, desc="busy")
    desc, count, _, cpu = log.read_text().strip().split("\t")
    assert (desc, count) == ("busy", "3 jobs")
    # the workers' CPU time counts once they have ended, whether inline or forked
    assert 0.55 <= float(cpu.removesuffix(" CPU-s")) < 2.0
