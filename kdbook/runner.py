"""Runner: execute the book's notebooks with papermill under a profile, then build the HTML book."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import yaml

from kdbook.sweep import cpu_seconds, make_cpu_slots
from kdutils.checkpoints import checkpoint_dir

from .advice import PAGE as ADVICE_PAGE
from .advice import advice_page, advice_summary
from .gpu_record import load_record, record_page
from .imports import PACKAGES, imported_sources
from .profiles import OVERRIDES_ENV, PROFILES, get_profile
from .progress import Progress
from .report import FOREST_FILE, findings, forest_plot, results_page, table_cell
from .results import REPO_ROOT, load_results

BOOK_FILES = ("_config.yml", "_toc.yml")
BOOK_DIRS = ("book",)


def build_dir(profile: str, root: Path = REPO_ROOT) -> Path:
    return root / "build" / profile


def toc_parts(root: Path = REPO_ROOT) -> dict[str, int]:
    """The notebooks listed in ``_toc.yml`` (e.g. ``01_kd_theory``), in book order, each with the
    index of the book part that lists it."""
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    found: dict[str, int] = {}

    def walk(node: object, part: int) -> None:
        if isinstance(node, dict):
            file = node.get("file")
            if isinstance(file, str) and file.startswith("notebooks/"):
                found[Path(file).name] = part
            for value in node.values():
                walk(value, part)
        elif isinstance(node, list):
            for item in node:
                walk(item, part)

    for index, part in enumerate(toc.get("parts", [])):
        walk(part, index)
    walk({k: v for k, v in toc.items() if k != "parts"}, -1)  # a toc without parts
    return found


def toc_notebooks(root: Path = REPO_ROOT) -> list[str]:
    """Names (e.g. ``01_kd_theory``) of the notebooks listed in ``_toc.yml``, in book order."""
    return list(toc_parts(root))


def run_key(name: str, profile: str, root: Path = REPO_ROOT, seed: int = 0) -> str:
    """Hash of what an executed notebook depends on: its source, the profile and seed, and the code it imports.

    Only the library and book modules the notebook imports count: editing the runner or the results page
    re-executes nothing.
    """
    # a profile overridden for a dry run is another profile
    overrides = os.environ.get(OVERRIDES_ENV, "")
    digest = hashlib.sha256(f"{profile}\0{seed}\0{overrides}\0".encode())
    for path in [root / "notebooks" / f"{name}.ipynb", *imported_sources(name, root)]:
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def is_up_to_date(
    name: str, profile: str, root: Path = REPO_ROOT, seed: int = 0
) -> bool:
    """True when the executed notebook and its results exist and were made from the same inputs."""
    build = build_dir(profile, root)
    key_file = build / "run-keys" / f"{name}.sha256"
    outputs = [
        build / "site" / "notebooks" / f"{name}.ipynb",
        build / "results" / f"{name}.json",
        key_file,
    ]
    return all(p.is_file() for p in outputs) and key_file.read_text() == run_key(
        name, profile, root, seed
    )


def kernel_config() -> dict:
    """Where the OS has Unix sockets, the notebook's kernel talks over them, at a path unique to this
    process: over TCP, kernels started at once by notebooks side by side can each pick the same
    "free" port before either binds it, and one dies at start ("Address already in use")."""
    if os.name != "posix":
        return {}
    from traitlets.config import Config

    path = Path(tempfile.gettempdir()) / f"kdbook-kernel-{os.getpid()}"
    return {"config": Config({"KernelManager": {"transport": "ipc", "ip": str(path)}})}


def execute_notebook(
    name: str,
    profile: str,
    root: Path = REPO_ROOT,
    seed: int = 0,
    workers: int | None = None,
) -> float:
    """Run ``notebooks/<name>.ipynb`` under ``profile``; write the executed copy into the book's site.

    Every training run gets the profile's thread count, however many notebooks run side by side, so
    that the same seed gives the same numbers. ``workers``: the processes the notebook's sweeps may fork
    (its share of the cores when notebooks run side by side; default: one per core).
    """
    import papermill

    threads = get_profile(profile).threads
    if (
        threads is not None
    ):  # the kernel is a child process: it inherits these, and torch reads them at start
        os.environ.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    if workers is not None:
        os.environ["KD_WORKERS"] = str(workers)

    source = root / "notebooks" / f"{name}.ipynb"
    if not source.is_file():
        raise FileNotFoundError(
            f"notebook {source} does not exist (is it paired? run: jupytext --sync notebooks/{name}.py)"
        )
    out = build_dir(profile, root) / "site" / "notebooks" / f"{name}.ipynb"
    out.parent.mkdir(parents=True, exist_ok=True)
    os.environ["KD_RESULTS_DIR"] = str(build_dir(profile, root) / "results")
    key = run_key(name, profile, root, seed)
    key_file = build_dir(profile, root) / "run-keys" / f"{name}.sha256"
    key_file.parent.mkdir(parents=True, exist_ok=True)
    # the executed copy is rewritten as it runs: until it completes, it is stale
    key_file.unlink(missing_ok=True)
    sweep_log = key_file.parent / f"{name}.sweeps.tsv"
    sweep_log.write_text("")
    os.environ["KD_SWEEP_LOG"] = str(sweep_log)
    tic, cpu = time.perf_counter(), cpu_seconds()
    papermill.execute_notebook(
        str(source),
        str(out),
        parameters={"profile": profile, "seed": seed},
        kernel_name="python3",
        cwd=str(source.parent),
        progress_bar=False,
        **kernel_config(),
    )
    seconds, cpu = time.perf_counter() - tic, cpu_seconds() - cpu
    _tidy_executed_notebook(out)
    # for scheduling the next parallel run, and for the README's timings
    (key_file.parent / f"{name}.seconds").write_text(f"{seconds:.1f}")
    (key_file.parent / f"{name}.cpu-seconds").write_text(f"{cpu:.1f}")
    # written last: an interrupted run is executed again next time
    key_file.write_text(key)
    return seconds


def _tidy_executed_notebook(path: Path) -> None:
    """What a reader should not see, out of the executed notebook: the parameters cells (the
    chapter's "Run settings" line says which values were used) and everything written to stderr
    (progress bars, warnings)."""
    import nbformat

    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        tags = cell.metadata.setdefault("tags", [])
        hidden = {"parameters", "injected-parameters"} & set(tags)
        if hidden and "remove-cell" not in tags:
            tags.append("remove-cell")
        if cell.cell_type == "code":
            cell.outputs = [
                o
                for o in cell.outputs
                if not (o.output_type == "stream" and o.name == "stderr")
            ]
    nbformat.write(notebook, path)


def run(
    profile: str,
    only: list[str] | None = None,
    jobs: int = 1,
    force: bool = False,
    root: Path = REPO_ROOT,
    quiet: bool = False,
) -> dict[str, float]:
    """Execute the notebooks of the book (or ``only`` these) under ``profile``; return seconds per notebook.

    A notebook whose source, profile and imported code have not changed since its last run is skipped
    (0 seconds) unless ``force``. Progress (a line per chapter, a bar kept alive every 30 s) goes to the
    terminal unless ``quiet``.
    """
    get_profile(profile)  # fail early on an unknown profile
    names = toc_notebooks(root)
    if only:
        unknown = sorted(set(only) - set(names))
        if unknown:
            raise ValueError(f"unknown notebook(s) {unknown}; the book has {names}")
        names = [n for n in names if n in only]
    if jobs < 1:
        raise ValueError(f"jobs must be >= 1; got {jobs!r}")
    seconds: dict[str, float] = {}
    if not force:
        for name in [n for n in names if is_up_to_date(n, profile, root)]:
            if not quiet:
                print(
                    f"[kdbook] {name}: up to date (its source, profile and the code it imports "
                    "are unchanged), not re-executed",
                    flush=True,
                )
            seconds[name] = 0.0
            names.remove(name)
    if not names:
        return seconds
    results = build_dir(profile, root) / "results"
    progress = Progress(names, checkpoint_dir(), quiet)

    def finish(name: str) -> None:
        record = results / f"{name}.json"
        progress.finish(name, seconds[name], record, cpu_record(name, profile, root))

    try:
        if jobs == 1 or len(names) <= 1:
            for name in names:
                progress.start(name)
                seconds[name] = execute_notebook(name, profile, root)
                finish(name)
        else:
            jobs = min(jobs, len(names))
            # every notebook may fork one sweep worker per core: while notebooks run side by
            # side the cores are time-shared, and the last one (the long pole) gets them all;
            # each job is single-threaded, so the numbers do not change
            workers = os.cpu_count() or 1
            # ... and their training runs (sweep jobs and teachers) take turns through one slot
            # per core, so that no more of them compute at once than there are cores
            os.environ["KD_CPU_SLOTS"] = str(
                make_cpu_slots(build_dir(profile, root) / "cpu-slots", workers)
            )
            order = parallel_order(names, profile, root)
            progress.say(
                f"executing {', '.join(order)} (profile {profile}), {jobs} at a "
                f"time, {workers} sweep worker(s) each"
            )
            with ProcessPoolExecutor(max_workers=jobs) as pool:
                futures = {}
                for name in order:
                    futures[
                        pool.submit(execute_notebook, name, profile, root, 0, workers)
                    ] = name
                for name in order[:jobs]:  # the pool starts the first ``jobs`` at once
                    progress.start(name)
                waiting = order[jobs:]
                for future in as_completed(futures):
                    name = futures[future]
                    seconds[name] = future.result()
                    finish(name)
                    if waiting:
                        progress.start(waiting.pop(0))
    finally:
        progress.close()
    return seconds


def cpu_record(name: str, profile: str = "cpu", root: Path = REPO_ROOT) -> float | None:
    """The CPU seconds of ``name``'s last run (it and every process it started), if recorded."""
    record = build_dir(profile, root) / "run-keys" / f"{name}.cpu-seconds"
    return float(record.read_text()) if record.is_file() else None


def parallel_order(names: list[str], profile: str, root: Path = REPO_ROOT) -> list[str]:
    """Longest first, by each notebook's last recorded run time; never run: first, by part.

    Starting the long ones first keeps every worker busy until the end; notebooks that share a teacher
    wait for whichever trains it (see :func:`kdutils.checkpoints.cached_model`). Without a record, the
    book's order is the best guess: part by part (the chapters before the page that reuses their
    teachers on a reader's folder), and within a part reversed, as its chapters grow from theory to
    paper-scale models.
    """

    def last_seconds(name: str) -> float:
        record = build_dir(profile, root) / "run-keys" / f"{name}.seconds"
        return float(record.read_text()) if record.is_file() else float("inf")

    parts = toc_parts(root)
    return sorted(
        names,
        key=lambda name: (-last_seconds(name), parts.get(name, 0), -names.index(name)),
    )


def notebook_title(path: Path) -> str:
    """The first markdown heading of a notebook, or its file name."""
    import nbformat

    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return path.stem


def profiles_table() -> str:
    """The profiles as a markdown table, rendered from :data:`kdbook.profiles.PROFILES`."""
    lines = [
        "| profile | for | seeds | training images per class | device | mixed precision | downloads |",
        "|---|---|---|---|---|---|---|",
    ]
    for p in PROFILES.values():
        lines.append(
            f"| `{p.name}` | {table_cell(p.purpose)} | {len(p.seeds)} | {p.per_class_limit or 'all'} | "
            f"{p.device} | {'bf16' if p.device == 'cuda' else 'off'} | {'allowed' if p.allow_download else 'never'} |"
        )
    return "\n".join(lines) + "\n"


def stage_book(profile: str, root: Path = REPO_ROOT) -> Path:
    """Copy the book's configuration and prose beside the executed notebooks; write the generated
    pages (results, when to distil) and the intro's closing sections."""
    site = build_dir(profile, root) / "site"
    site.mkdir(parents=True, exist_ok=True)
    for name in BOOK_FILES:
        shutil.copy2(root / name, site / name)
    for name in BOOK_DIRS:
        shutil.copytree(root / name, site / name, dirs_exist_ok=True)
    for package in PACKAGES:  # the chapters show library code with literalinclude
        shutil.copytree(
            root / package,
            site / "_src" / package,
            dirs_exist_ok=True,
            ignore=shutil.ignore_patterns("__pycache__"),
        )
    serve_mathjax(site, root)
    missing = [
        n
        for n in toc_notebooks(root)
        if not (site / "notebooks" / f"{n}.ipynb").is_file()
    ]
    if missing:
        raise FileNotFoundError(
            f"not executed yet for profile {profile!r}: {missing}; "
            f"run: python -m kdbook run --profile {profile}"
        )
    (site / "book" / "_profiles.md").write_text(profiles_table())
    results = load_results(profile, build_dir(profile, root) / "results")
    on_cpu = (
        results
        if profile == "cpu"
        else load_results("cpu", build_dir("cpu", root) / "results")
    )
    (site / "book" / "_gpu_record.md").write_text(
        record_page(
            load_record(root / "book" / "gpu-record"), on_cpu, toc_notebooks(root)
        )
    )
    titles = {
        n: notebook_title(site / "notebooks" / f"{n}.ipynb")
        for n in toc_notebooks(root)
    }
    forest = forest_plot(results, site / "book" / FOREST_FILE, titles)
    (site / "book" / "results.md").write_text(
        results_page(profile, results, titles, forest=forest)
    )
    (site / "book" / f"{ADVICE_PAGE}.md").write_text(advice_page(profile, results))
    intro = site / "book" / "intro.md"
    intro.write_text(
        intro.read_text().rstrip()
        + "\n\n"
        + findings(profile, results, titles)
        + "\n"
        + advice_summary(profile, results)
    )
    return site


def serve_mathjax(site: Path, root: Path = REPO_ROOT) -> bool:
    """Serve the MathJax that ``make`` fetched from npm with the book, so equations render offline.

    Returns False, leaving the configuration's MathJax CDN, when there is none (``build/mathjax``).
    """
    vendored = root / "build" / "mathjax"
    if not (vendored / "tex-mml-chtml.js").is_file():
        return False
    # not under _static: Jupyter Book would also load every .js found there on every page
    shutil.copytree(vendored, site / "_mathjax" / "mathjax", dirs_exist_ok=True)
    config_path = site / "_config.yml"
    config = yaml.safe_load(config_path.read_text())
    sphinx_config = config.setdefault("sphinx", {}).setdefault("config", {})
    sphinx_config.update(
        html_static_path=["_mathjax"], mathjax_path="mathjax/tex-mml-chtml.js"
    )
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    return True


def build_book(profile: str, root: Path = REPO_ROOT) -> Path:
    """Stage and build the HTML with ``jupyter-book build -W -n --keep-going``; return index.html."""
    get_profile(profile)
    site = stage_book(profile, root)
    jb = Path(sys.executable).with_name("jupyter-book")
    cmd = [
        str(jb) if jb.exists() else "jupyter-book",
        "build",
        str(site),
        "-W",
        "-n",
        "--keep-going",
    ]
    subprocess.run(cmd, check=True)
    index = site / "_build" / "html" / "index.html"
    print(f"[kdbook] book built: {index}", flush=True)
    return index
