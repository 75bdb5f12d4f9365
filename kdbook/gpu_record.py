"""The gpu profile's record: runs on one GPU, committed under ``book/gpu-record/``, as the GPU page's tables.

The folder holds one run of ``scripts/gpu_run.sh`` as it came back (``env.json``, ``times.tsv``,
``bench.json``, ``gpu.csv``, ``results/``); a chapter run again later, after a fix, is a run of
its own in a subfolder ``rerun*/`` with the same files, whose results replace the first run's.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

from .claims import check_numbers, format_effect
from .report import table_cell
from .results import REPO_ROOT

RECORD_DIR = REPO_ROOT / "book" / "gpu-record"


def _load_run(folder: Path) -> dict | None:
    """One run's files: ``env``, ``times`` (by chapter, and the ``total`` row), ``results`` (by
    chapter) and ``gpu`` (nvidia-smi's samples: utilisation in %, memory in MiB); None when the
    folder holds no run."""
    if not (folder / "env.json").is_file():
        return None
    with open(folder / "times.tsv") as f:
        times = {row["chapter"]: row for row in csv.DictReader(f, delimiter="\t")}
    samples = []
    if (folder / "gpu.csv").is_file():
        with open(folder / "gpu.csv") as f:
            for row in list(csv.reader(f, skipinitialspace=True))[1:]:
                # "2026/12/04 14:39:20.465, 99 %, 1171 MiB"
                samples.append((float(row[1].split()[0]), float(row[2].split()[0])))
    return {
        "name": folder.name,
        "env": json.loads((folder / "env.json").read_text()),
        "times": times,
        "results": {
            path.stem: json.loads(path.read_text())
            for path in sorted((folder / "results").glob("*.json"))
        },
        "gpu": samples,
    }


def load_record(folder: Path = RECORD_DIR) -> dict | None:
    """The committed gpu runs: ``runs`` (the first, then each ``rerun*`` subfolder by name),
    ``env`` of the first, ``results`` (each chapter's from the last run that has
    it) and ``bench`` (training throughput); None when no run is committed."""
    first = _load_run(folder)
    if first is None:
        return None
    runs = [first] + [
        run
        for sub in sorted(folder.glob("rerun*"))
        if sub.is_dir() and (run := _load_run(sub)) is not None
    ]
    results: dict[str, dict] = {}
    for run in runs:
        results.update(run["results"])
    bench = folder / "bench.json"
    return {
        "runs": runs,
        "env": first["env"],
        "results": results,
        "bench": json.loads(bench.read_text()) if bench.is_file() else None,
    }


def _verdicts(result: dict | None) -> str:
    if result is None:
        return "not run"
    counts = Counter(c["verdict"] for c in result["claims"])
    return ", ".join(f"{n} {verdict}" for verdict, n in counts.most_common())


def _claim_cell(claim: dict | None) -> str:
    if claim is None:
        return "—"
    numbers = (
        format_effect(claim).removeprefix("effect ")
        if claim["kind"] == "comparative"
        else check_numbers(claim)
    )
    return f"**{claim['verdict']}**: {numbers}"


def _time_cell(row: dict | None) -> str:
    if row is None:
        return "—"
    if row["status"] == "0":
        return row["seconds"]
    # 124: stopped by its CHAPTER_TIMEOUT; other codes: the notebook failed
    return f"{row['seconds']}, exit {row['status']}"


def _runs_table(runs: list[dict]) -> list[str]:
    lines = [
        "| run | chapters | at a time | CPU threads each | seconds, first start to last end "
        "| chapter-seconds summed | GPU busy (mean of `nvidia-smi`'s 5-s samples) "
        "| GPU memory, peak |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for i, run in enumerate(runs, 1):
        env = run["env"]
        folder = "gpu-record/" if i == 1 else f"gpu-record/{run['name']}/"
        chapters = {k: v for k, v in run["times"].items() if k != "total"}
        total = run["times"].get("total", {}).get("seconds") or "cut short"
        summed = sum(int(row["seconds"]) for row in chapters.values())
        busy, memory = (
            (
                f"{sum(u for u, _ in run['gpu']) / len(run['gpu']):.0f}%",
                f"{max(m for _, m in run['gpu']) / 1024:.1f} GiB",
            )
            if run["gpu"]
            else ("not sampled", "not sampled")
        )
        lines.append(
            f"| {i} (`{folder}`) | {len(chapters)} | {env.get('jobs', 1)} "
            f"| {env.get('threads_per_chapter', 'all')} of {env.get('cpu_cores', '?')} "
            f"| {total} | {summed} | {busy} | {memory} |"
        )
    return lines


def record_page(
    record: dict | None, cpu_results: list[dict], chapters: list[str]
) -> str:
    """Markdown for the GPU page: where the record ran, each run's shape, each chapter's time in
    every run and its verdicts beside the ``cpu`` run's, every recorded claim under both profiles
    with its source's statement, and the throughput benchmark."""
    if record is None:
        return "No run of the `gpu` profile is committed yet (`book/gpu-record/`).\n"
    runs, cpu = record["runs"], {r["notebook"]: r for r in cpu_results}
    devices = sorted({run["env"]["device"] for run in runs})
    env = record["env"]
    lines = [
        f"Recorded on one **{' and '.join(devices)}** (`nvidia-smi`: {env['nvidia_smi']}), torch "
        f"{env['torch']}, CUDA {env['cuda']}, by `scripts/gpu_run.sh`; the files are in "
        "`book/gpu-record/`, each run's in its own folder. A chapter's time is the runner's "
        "from start to exit; an exit status that is not 0 means the notebook failed (124: "
        "stopped by its time limit), and a later run's results replace an earlier one's.",
        "",
        *_runs_table(runs),
        "",
        "| chapter | "
        + " | ".join(f"seconds in run {i}" for i in range(1, len(runs) + 1))
        + " | verdicts under `gpu` | verdicts under `cpu` |",
        "|---|" + "---|" * len(runs) + "---|---|",
    ]
    for name in chapters:
        cells = [_time_cell(run["times"].get(name)) for run in runs]
        if all(cell == "—" for cell in cells):
            cells = ["not run"] * len(runs)
        lines.append(
            f"| {name} | {' | '.join(cells)} | {_verdicts(record['results'].get(name))} "
            f"| {_verdicts(cpu.get(name))} |"
        )
    lines += [
        "",
        "| claim | what its source says | `cpu` | `gpu` |",
        "|---|---|---|---|",
    ]
    for name in [*chapters, *sorted(set(record["results"]) - set(chapters))]:
        if name not in record["results"]:
            continue
        on_cpu = {c["id"]: c for c in (cpu.get(name) or {"claims": []})["claims"]}
        for claim in record["results"][name]["claims"]:
            said = f"{claim['statement']} ({claim['source']})"
            lines.append(
                f"| `{claim['id']}` | {table_cell(said)} "
                f"| {table_cell(_claim_cell(on_cpu.get(claim['id'])))} "
                f"| {table_cell(_claim_cell(claim))} |"
            )
    if record["bench"]:
        bench = record["bench"]
        lines += [
            "",
            f"Training throughput (`bench/gpu_throughput.py`, run 1, before its chapters; the "
            f"GPU's measured bf16 matrix product: {bench['matmul_flops'] / 1e12:.0f} TFLOP/s):",
            "",
            "| model | batch | bf16 | ms per step | images/s | share of the matmul rate |",
            "|---|---|---|---|---|---|",
        ]
        for m in bench["models"]:
            lines.append(
                f"| {m['model']} | {m['batch']} | {'on' if m['bf16'] else 'off'} | "
                f"{m['ms_per_step']:.2f} | {m['images_per_s']:,.0f} | "
                f"{100 * m['fraction_of_matmul']:.3f}% |"
            )
    return "\n".join(lines) + "\n"
