"""The gpu profile's record: a run on one GPU, committed under ``book/gpu-record/``, as the GPU page's tables."""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

from .claims import check_numbers, format_effect
from .report import table_cell
from .results import REPO_ROOT

RECORD_DIR = REPO_ROOT / "book" / "gpu-record"


def load_record(folder: Path = RECORD_DIR) -> dict | None:
    """The committed gpu run: ``env`` (GPU, torch, CUDA), ``times`` (seconds and exit status per
    chapter), ``results`` (each chapter's results JSON) and ``bench`` (training throughput);
    None when no run is committed."""
    if not (folder / "env.json").is_file():
        return None
    with open(folder / "times.tsv") as f:
        times = {row["chapter"]: row for row in csv.DictReader(f, delimiter="\t")}
    results = {
        path.stem: json.loads(path.read_text())
        for path in sorted((folder / "results").glob("*.json"))
    }
    bench = folder / "bench.json"
    return {
        "env": json.loads((folder / "env.json").read_text()),
        "times": times,
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


def record_page(
    record: dict | None, cpu_results: list[dict], chapters: list[str]
) -> str:
    """Markdown for the GPU page: where the record ran, each chapter's time and verdicts beside
    the ``cpu`` run's, every recorded claim under both profiles, and the throughput benchmark."""
    if record is None:
        return "No run of the `gpu` profile is committed yet (`book/gpu-record/`).\n"
    env, cpu = record["env"], {r["notebook"]: r for r in cpu_results}
    lines = [
        f"Recorded on one **{env['device']}** (`nvidia-smi`: {env['nvidia_smi']}), torch "
        f"{env['torch']}, CUDA {env['cuda']}, by `scripts/gpu_run.sh`; the files are in "
        "`book/gpu-record/` (a chapter's exit status is the runner's: not 0 when the notebook "
        "failed, before or after writing its results; the GPU page says what happened).",
        "",
        "| chapter | seconds on the GPU | exit | verdicts under `gpu` | verdicts under `cpu` |",
        "|---|---|---|---|---|",
    ]
    for name in chapters:
        row = record["times"].get(name)
        seconds, status = (row["seconds"], row["status"]) if row else ("not run", "")
        lines.append(
            f"| {name} | {seconds} | {status} | {_verdicts(record['results'].get(name))} "
            f"| {_verdicts(cpu.get(name))} |"
        )
    lines += ["", "| claim | `cpu` | `gpu` |", "|---|---|---|"]
    for name, result in record["results"].items():
        on_cpu = {c["id"]: c for c in (cpu.get(name) or {"claims": []})["claims"]}
        for claim in result["claims"]:
            lines.append(
                f"| `{claim['id']}` | {table_cell(_claim_cell(on_cpu.get(claim['id'])))} "
                f"| {table_cell(_claim_cell(claim))} |"
            )
    if record["bench"]:
        bench = record["bench"]
        lines += [
            "",
            f"Training throughput (`bench/gpu_throughput.py`; the GPU's measured bf16 matrix "
            f"product: {bench['matmul_flops'] / 1e12:.0f} TFLOP/s):",
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
