"""The GPU page's tables, generated from the committed record of the gpu runs."""

import csv
import json

from kdbook import gpu_record
from kdbook.runner import toc_notebooks


def _claim(id_, verdict):
    return {
        "id": id_,
        "statement": f"{id_} holds (the paper: 72% vs 63%).",
        "source": "a paper",
        "kind": "exact",
        "numbers": {"observed": 1.0, "expected": 1.0, "tolerance": 0.1},
        "verdict": verdict,
    }


def _write_run(folder, jobs, times, results, gpu_rows):
    (folder / "results").mkdir(parents=True)
    env = {"device": "Some GPU", "nvidia_smi": "Some GPU, 80 GiB", "torch": "2.x"}
    env |= {"cuda": "13.0", "jobs": jobs, "threads_per_chapter": 2, "cpu_cores": 16}
    (folder / "env.json").write_text(json.dumps(env))
    with open(folder / "times.tsv", "w") as f:
        f.write("chapter\tseconds\tstatus\n")
        f.writelines(f"{name}\t{s}\t{status}\n" for name, s, status in times)
    for name, claims in results.items():
        (folder / "results" / f"{name}.json").write_text(json.dumps({"claims": claims}))
    with open(folder / "gpu.csv", "w") as f:
        f.write("timestamp, utilization.gpu [%], memory.used [MiB]\n")
        f.writelines(
            f"2026/12/04 14:39:0{i}.0, {u} %, {m} MiB\n"
            for i, (u, m) in enumerate(gpu_rows)
        )


def test_a_rerun_joins_the_record_and_replaces_its_chapters_results(tmp_path):
    # run 1: chapter a passed, b failed before writing results; the rerun took b to the end
    _write_run(
        tmp_path,
        2,
        [("a", 10, 0), ("b", 5, 1), ("total", 12, "")],
        {"a": [_claim("a-holds", "reproduced")]},
        [(50, 1024), (100, 3072)],
    )
    _write_run(
        tmp_path / "rerun",
        1,
        [("b", 7, 0), ("total", 7, "")],
        {"b": [_claim("b-holds", "inconclusive")]},
        [(10, 512)],
    )
    record = gpu_record.load_record(tmp_path)
    assert [run["name"] for run in record["runs"]] == [tmp_path.name, "rerun"]
    assert set(record["results"]) == {"a", "b"}
    cpu = [{"notebook": "a", "claims": [_claim("a-holds", "contradicted")]}]
    page = gpu_record.record_page(record, cpu, ["a", "b", "c"])
    assert "one **Some GPU**" in page
    # each run: its chapters, at a time, threads, wall, summed chapter seconds, GPU samples
    assert "| 1 (`gpu-record/`) | 2 | 2 | 2 of 16 | 12 | 15 | 75% | 3.0 GiB |" in page
    assert (
        "| 2 (`gpu-record/rerun/`) | 1 | 1 | 2 of 16 | 7 | 7 | 10% | 0.5 GiB |" in page
    )
    assert "| a | 10 | — | 1 reproduced | 1 contradicted |" in page
    assert "| b | 5, exit 1 | 7 | 1 inconclusive | not run |" in page
    assert "| c | not run | not run | not run | not run |" in page
    # the claims beside the cpu run's, with what the source says (its numbers included)
    assert (
        "| `a-holds` | a-holds holds (the paper: 72% vs 63%). (a paper) "
        "| **contradicted**: observed 1, expected 1 ± 0.1 "
        "| **reproduced**: observed 1, expected 1 ± 0.1 |"
    ) in page
    assert (
        "| `b-holds` | b-holds holds (the paper: 72% vs 63%). (a paper) | — |" in page
    )
    assert "ms per step" not in page  # no bench.json


def test_committed_record_names_the_gpu_and_every_chapter_it_ran():
    record = gpu_record.load_record()
    assert record is not None and record["env"]["device"]
    chapters = toc_notebooks()
    page = gpu_record.record_page(record, [], chapters)
    assert f"one **{record['env']['device']}**" in page
    for run in record["runs"]:
        for name in run["times"]:
            if name != "total":  # every chapter a run timed is a chapter of the book
                assert name in chapters, name
    for name in chapters:
        assert sum(line.startswith(f"| {name} |") for line in page.splitlines()) == 1
    for result in record["results"].values():
        for claim in result["claims"]:
            assert f"| `{claim['id']}` |" in page
    assert page.count("ms per step") == 1


def test_committed_times_are_the_runs_own():
    """The record's files are as gpu_run.sh wrote them: a total row after the chapters."""
    with open(gpu_record.RECORD_DIR / "times.tsv") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    assert rows[-1]["chapter"] == "total"
    assert int(rows[-1]["seconds"]) >= max(int(r["seconds"]) for r in rows[:-1])


def test_no_record_says_so(tmp_path):
    assert gpu_record.load_record(tmp_path) is None
    assert "No run of the `gpu` profile" in gpu_record.record_page(None, [], [])
