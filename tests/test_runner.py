"""The runner: the book's notebooks, run keys, side-by-side runs, MathJax."""

import pytest
import yaml

from kdbook import imports, runner


def test_toc_lists_the_chapters():
    assert runner.toc_notebooks()[0] == "01_kd_theory"


def test_runner_refuses_unknown_profile_and_notebook():
    with pytest.raises(ValueError, match="unknown profile 'fast'"):
        runner.run("fast")
    with pytest.raises(ValueError, match=r"unknown notebook\(s\) \['99_nope'\]"):
        runner.run("smoke", only=["99_nope"])


def _completed_run(root):
    """A repository with notebook ``01_x`` (it imports ``kdbook.chapter``, which imports ``kdutils.a``), a runner
    module no notebook imports, and the outputs of a complete smoke run of it."""
    import nbformat

    notebook = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell("%matplotlib inline\nfrom kdbook import chapter")
        ]
    )
    (root / "notebooks").mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, root / "notebooks" / "01_x.ipynb")
    for path, text in (
        ("kdutils/__init__.py", ""),
        ("kdutils/a.py", "x = 1"),
        ("kdbook/__init__.py", ""),
        ("kdbook/chapter.py", "from kdutils.a import x\nfrom . import results"),
        ("kdbook/results.py", "y = 1"),
        ("kdbook/runner.py", "z = 1"),
    ):
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    assert not runner.is_up_to_date("01_x", "smoke", root)
    build = root / "build" / "smoke"
    for path in ("site/notebooks/01_x.ipynb", "results/01_x.json"):
        (build / path).parent.mkdir(parents=True, exist_ok=True)
        (build / path).write_text("{}")
    (build / "run-keys").mkdir()
    (build / "run-keys" / "01_x.sha256").write_text(
        runner.run_key("01_x", "smoke", root)
    )
    assert runner.is_up_to_date("01_x", "smoke", root)


def test_run_key_covers_the_notebook_the_profile_and_only_the_code_it_imports(tmp_path):
    _completed_run(tmp_path)
    assert [
        p.relative_to(tmp_path).as_posix()
        for p in imports.imported_sources("01_x", tmp_path)
    ] == [
        "kdbook/__init__.py",
        "kdbook/chapter.py",
        "kdbook/results.py",
        "kdutils/__init__.py",
        "kdutils/a.py",
    ]
    assert runner.run_key("01_x", "cpu", tmp_path) != runner.run_key(
        "01_x", "smoke", tmp_path
    )
    # the book machinery no notebook imports
    (tmp_path / "kdbook" / "runner.py").write_text("z = 2")
    assert runner.is_up_to_date("01_x", "smoke", tmp_path)
    # code the notebook imports through kdbook.chapter
    (tmp_path / "kdutils" / "a.py").write_text("x = 2")
    assert not runner.is_up_to_date("01_x", "smoke", tmp_path)


def test_parallel_order_starts_the_longest_and_the_never_run_first(tmp_path):
    keys = tmp_path / "build" / "cpu" / "run-keys"
    keys.mkdir(parents=True)
    names = ["01_a", "02_b", "03_c", "04_d", "05_e"]
    (tmp_path / "_toc.yml").write_text(
        "format: jb-book\nroot: intro\nparts:\n"
        "  - caption: Chapters\n    chapters:\n"
        + "".join(f"      - file: notebooks/{n}\n" for n in names[:4])
        + "  - caption: Your own data\n    chapters:\n      - file: notebooks/05_e\n"
    )
    # no history: part by part, later (bigger) chapters of a part first
    assert runner.parallel_order(names, "cpu", tmp_path) == [
        "04_d",
        "03_c",
        "02_b",
        "01_a",
        "05_e",
    ]
    for name, seconds in (
        ("01_a", "9.5"),
        ("02_b", "250.0"),
        ("04_d", "300.2"),
        ("05_e", "20.0"),
    ):
        (keys / f"{name}.seconds").write_text(seconds)
    assert runner.parallel_order(names, "cpu", tmp_path) == [
        "03_c",
        "04_d",
        "02_b",
        "05_e",
        "01_a",
    ]


def test_runner_executes_notebooks_side_by_side_with_the_profiles_threads(
    tmp_path, monkeypatch
):
    """Six notebooks started at once (as ``make book`` does): every kernel starts, each over its
    own Unix socket where the OS has them (over TCP, kernels started at once raced for ports)."""
    import os

    import nbformat

    names = [f"0{i}_n" for i in range(1, 7)]
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "kdutils").mkdir()
    toc = "format: jb-book\nroot: intro\nchapters:\n" + "".join(
        f"  - file: notebooks/{name}\n" for name in names
    )
    (tmp_path / "_toc.yml").write_text(toc)
    for name in names:
        parameters = nbformat.v4.new_code_cell(
            'profile = "cpu"\nseed = 0', metadata={"tags": ["parameters"]}
        )
        probe = nbformat.v4.new_code_cell(
            "import os, pathlib\nfrom ipykernel.kernelapp import IPKernelApp\n"
            'print("threads", os.environ.get("OMP_NUM_THREADS"), '
            'os.environ.get("KD_WORKERS"), IPKernelApp.instance().transport)\n'
            'results = pathlib.Path(os.environ["KD_RESULTS_DIR"])\n'
            "results.mkdir(parents=True, exist_ok=True)\n"
            f'(results / "{name}.json").write_text("{{}}")\n'
            "import time\nend = time.process_time() + 0.3\n"
            "while time.process_time() < end: pass"  # CPU time the runner must count
        )
        notebook = nbformat.v4.new_notebook(
            cells=[parameters, probe],
            metadata={
                "kernelspec": {
                    "name": "python3",
                    "display_name": "Python 3",
                    "language": "python",
                }
            },
        )
        nbformat.write(notebook, tmp_path / "notebooks" / f"{name}.ipynb")
    seconds = runner.run("smoke", jobs=len(names), root=tmp_path)
    assert sorted(seconds) == names and all(s > 0 for s in seconds.values())
    transport = "ipc" if os.name == "posix" else "tcp"
    for name in names:
        executed = nbformat.read(
            tmp_path / "build" / "smoke" / "site" / "notebooks" / f"{name}.ipynb",
            as_version=4,
        )
        # smoke's thread count; a sweep worker per core
        assert executed.cells[-1].outputs[0]["text"] == f"threads 1 2 {transport}\n"
        assert runner.is_up_to_date(name, "smoke", tmp_path)
        seconds_file = tmp_path / "build" / "smoke" / "run-keys" / f"{name}.seconds"
        assert float(seconds_file.read_text()) > 0
        # the kernel's CPU time, counted from the process that ran papermill
        assert runner.cpu_record(name, "smoke", tmp_path) >= 0.3
    # nothing changed
    assert runner.run("smoke", jobs=len(names), root=tmp_path) == dict.fromkeys(
        names, 0.0
    )


def test_an_interrupted_run_is_executed_again(tmp_path, monkeypatch):
    import papermill

    # execute_notebook sets it; restored after the test
    monkeypatch.setenv("KD_RESULTS_DIR", str(tmp_path))
    _completed_run(tmp_path)

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(papermill, "execute_notebook", interrupted)
    with pytest.raises(KeyboardInterrupt):
        # e.g. a --force run stopped half way
        runner.execute_notebook("01_x", "smoke", tmp_path)
    assert not runner.is_up_to_date("01_x", "smoke", tmp_path)


def test_serve_mathjax_points_the_book_at_the_fetched_copy(tmp_path):
    root, site = tmp_path / "repo", tmp_path / "site"
    site.mkdir()
    (site / "_config.yml").write_text(
        "title: T\nsphinx:\n  config:\n    nb_output_stderr: remove\n"
    )
    # nothing fetched: the configuration's CDN stays
    assert not runner.serve_mathjax(site, root)
    assert "mathjax_path" not in (site / "_config.yml").read_text()
    vendored = root / "build" / "mathjax"
    (vendored / "output").mkdir(parents=True)
    (vendored / "tex-mml-chtml.js").write_text("// MathJax")
    assert runner.serve_mathjax(site, root)
    config = yaml.safe_load((site / "_config.yml").read_text())["sphinx"]["config"]
    assert config == {
        "nb_output_stderr": "remove",
        "html_static_path": ["_mathjax"],
        "mathjax_path": "mathjax/tex-mml-chtml.js",
    }
    assert (
        site / "_mathjax" / "mathjax" / "tex-mml-chtml.js"
    ).read_text() == "// MathJax"
