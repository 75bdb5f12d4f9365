"""Claims: statistics over seeds, verdicts, and the results JSON and page built from them."""

import json
import math

import pytest
import yaml

from kdutils import claims, results, runner


def test_seed_statistics_by_hand():
    s = claims.seed_statistics([1.0, 2.0, 3.0])
    assert s["mean"] == 2.0 and s["std"] == 1.0
    half = 4.302652729911275 / math.sqrt(3)  # t(0.975, df=2) * std / sqrt(n)
    assert s["ci_low"] == pytest.approx(2.0 - half) and s["ci_high"] == pytest.approx(2.0 + half)


def test_fewer_than_three_seeds_is_refused():
    with pytest.raises(ValueError, match="need at least 3 values .* got 2"):
        claims.seed_statistics([1.0, 2.0])


@pytest.mark.parametrize("treatment, control, higher, verdict", [
    ([0.90, 0.91, 0.92], [0.80, 0.80, 0.81], True, "reproduced"),
    ([0.80, 0.80, 0.81], [0.90, 0.91, 0.92], True, "not reproduced"),
    ([0.90, 0.70, 0.95], [0.80, 0.85, 0.80], True, "inconclusive"),
    ([10, 11, 12], [20, 21, 22], False, "reproduced"),  # fewer errors is better
    ([0.8, 0.8, 0.8], [0.8, 0.8, 0.8], True, "not reproduced"),
])
def test_compare_seeds_verdicts(treatment, control, higher, verdict):
    claim = claims.compare_seeds("c", "s", "src", "m", treatment, control, higher_is_better=higher)
    assert claim.verdict == verdict
    assert claim.numbers["n"] == 3 and claim.kind == "empirical"


def test_compare_seeds_needs_paired_values():
    with pytest.raises(ValueError, match="one value per seed each; got 3 and 4"):
        claims.compare_seeds("c", "s", "src", "m", [1, 2, 3], [1, 2, 3, 4])


def test_check_exact():
    assert claims.check_exact("a", "s", "src", "m", 10.0000001, 10.0, 1e-6).verdict == "reproduced"
    assert claims.check_exact("a", "s", "src", "m", 10.1, 10.0, 1e-6).verdict == "not reproduced"
    with pytest.raises(ValueError, match="observed value is not finite"):
        claims.check_exact("a", "s", "src", "m", float("nan"), 0.0, 1.0)


def test_run_writes_json_with_environment_and_claims(tmp_path, monkeypatch):
    monkeypatch.setenv("KD_RESULTS_DIR", str(tmp_path))
    run = results.Run("99_test", "smoke", [0, 1, 2])
    run.metrics["accuracy"] = 0.5
    run.data_source = "packaged: test"
    run.add_claim(claims.check_exact("x", "s", "src", "m", 1.0, 1.0, 0.0))
    with pytest.raises(ValueError, match="claim id 'x' is recorded twice"):
        run.add_claim(claims.check_exact("x", "s", "src", "m", 1.0, 1.0, 0.0))
    payload = json.loads(run.save().read_text())
    assert payload["claims"][0]["verdict"] == "reproduced"
    assert payload["environment"]["versions"]["torch"] and payload["wall_seconds"] >= 0
    assert results.load_results("smoke")[0]["notebook"] == "99_test"


def test_results_page_has_one_row_per_claim():
    exact = claims.check_exact("x", "Softmax | sums to one", "Hinton", "m", 1.0, 1.0, 0.0)
    empirical = claims.compare_seeds("y", "KD helps", "Hinton", "acc", [0.9, 0.91, 0.92], [0.8, 0.8, 0.81])
    fake = {"notebook": "01_kd_theory", "data_source": "d", "seeds": [0, 1, 2], "wall_seconds": 1.0,
            "claims": [exact.as_dict(), empirical.as_dict()], "environment": results.environment()}
    page = runner.results_page("smoke", [fake])
    rows = [line for line in page.splitlines() if line.startswith("| ") and "**" in line]
    assert len(rows) == 2
    assert "Softmax \\| sums to one" in page and "**reproduced**" in page
    assert "2 claims" in page and "| torch |" in page
    titled = runner.results_page("smoke", [fake], {"01_kd_theory": "Knowledge distillation from first principles"})
    assert "## Knowledge distillation from first principles" in titled and "{doc}`../notebooks/01_kd_theory`" in titled


def test_results_page_without_runs_says_how_to_make_them():
    assert "python -m kdutils run --profile cpu" in runner.results_page("cpu", [])


def test_toc_lists_the_chapters():
    assert runner.toc_notebooks()[0] == "01_kd_theory"


def test_runner_refuses_unknown_profile_and_notebook():
    with pytest.raises(ValueError, match="unknown profile 'fast'"):
        runner.run("fast")
    with pytest.raises(ValueError, match=r"unknown notebook\(s\) \['99_nope'\]"):
        runner.run("smoke", only=["99_nope"])


def test_check_bound_both_directions():
    assert claims.check_bound("s", "fast", "src", "ratio", 1.05, 1.1).verdict == "reproduced"
    assert claims.check_bound("s", "fast", "src", "ratio", 1.2, 1.1).verdict == "not reproduced"
    claim = claims.check_bound("s", "speed-up", "src", "ratio", 4.0, 5.0, at_most=False)
    assert claim.verdict == "not reproduced" and claim.reason == "observed 4 < 5"
    assert "target >= 5" in claim.summary()


def _completed_run(root):
    """A repository with notebook ``01_x`` and kdutils code, and the outputs of a complete smoke run of it."""
    for path, text in (("notebooks/01_x.ipynb", "{}"), ("kdutils/a.py", "x = 1")):
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    assert not runner.is_up_to_date("01_x", "smoke", root)
    build = root / "build" / "smoke"
    for path in ("site/notebooks/01_x.ipynb", "results/01_x.json"):
        (build / path).parent.mkdir(parents=True, exist_ok=True)
        (build / path).write_text("{}")
    (build / "run-keys").mkdir()
    (build / "run-keys" / "01_x.sha256").write_text(runner.run_key("01_x", "smoke", root))
    assert runner.is_up_to_date("01_x", "smoke", root)


def test_run_key_tracks_notebook_profile_and_kdutils(tmp_path):
    _completed_run(tmp_path)
    assert runner.run_key("01_x", "cpu", tmp_path) != runner.run_key("01_x", "smoke", tmp_path)
    (tmp_path / "kdutils" / "a.py").write_text("x = 2")
    assert not runner.is_up_to_date("01_x", "smoke", tmp_path)


def test_parallel_order_starts_the_longest_and_the_never_run_first(tmp_path):
    keys = tmp_path / "build" / "cpu" / "run-keys"
    keys.mkdir(parents=True)
    names = ["01_a", "02_b", "03_c", "04_d"]
    assert runner.parallel_order(names, "cpu", tmp_path) == names[::-1]  # no history: later (bigger) chapters first
    for name, seconds in (("01_a", "9.5"), ("02_b", "250.0"), ("04_d", "300.2")):
        (keys / f"{name}.seconds").write_text(seconds)
    assert runner.parallel_order(names, "cpu", tmp_path) == ["03_c", "04_d", "02_b", "01_a"]


def test_runner_executes_notebooks_side_by_side_each_on_its_share_of_the_cores(tmp_path, monkeypatch):
    import os

    import nbformat

    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "kdutils").mkdir()
    toc = "format: jb-book\nroot: intro\nchapters:\n  - file: notebooks/01_a\n  - file: notebooks/02_b\n"
    (tmp_path / "_toc.yml").write_text(toc)
    for name in ("01_a", "02_b"):
        parameters = nbformat.v4.new_code_cell('profile = "cpu"\nseed = 0', metadata={"tags": ["parameters"]})
        probe = nbformat.v4.new_code_cell(
            'import os, pathlib\nprint("threads", os.environ.get("OMP_NUM_THREADS"))\n'
            f'results = pathlib.Path(os.environ["KD_RESULTS_DIR"])\nresults.mkdir(parents=True, exist_ok=True)\n'
            f'(results / "{name}.json").write_text("{{}}")')
        notebook = nbformat.v4.new_notebook(cells=[parameters, probe], metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
        nbformat.write(notebook, tmp_path / "notebooks" / f"{name}.ipynb")
    seconds = runner.run("smoke", jobs=2, root=tmp_path)
    assert sorted(seconds) == ["01_a", "02_b"] and all(s > 0 for s in seconds.values())
    for name in ("01_a", "02_b"):
        executed = nbformat.read(tmp_path / "build" / "smoke" / "site" / "notebooks" / f"{name}.ipynb", as_version=4)
        assert executed.cells[-1].outputs[0]["text"] == "threads 1\n"
        assert runner.is_up_to_date(name, "smoke", tmp_path)
        assert float((tmp_path / "build" / "smoke" / "run-keys" / f"{name}.seconds").read_text()) > 0
    assert runner.run("smoke", jobs=2, root=tmp_path) == {"01_a": 0.0, "02_b": 0.0}  # nothing changed


def test_an_interrupted_run_is_executed_again(tmp_path, monkeypatch):
    import papermill

    monkeypatch.setenv("KD_RESULTS_DIR", str(tmp_path))  # execute_notebook sets it; restored after the test
    _completed_run(tmp_path)

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(papermill, "execute_notebook", interrupted)
    with pytest.raises(KeyboardInterrupt):
        runner.execute_notebook("01_x", "smoke", tmp_path)  # e.g. a --force run stopped half way
    assert not runner.is_up_to_date("01_x", "smoke", tmp_path)


def test_serve_mathjax_points_the_book_at_the_fetched_copy(tmp_path):
    root, site = tmp_path / "repo", tmp_path / "site"
    site.mkdir()
    (site / "_config.yml").write_text("title: T\nsphinx:\n  config:\n    nb_output_stderr: remove\n")
    assert not runner.serve_mathjax(site, root)  # nothing fetched: the configuration's CDN stays
    assert "mathjax_path" not in (site / "_config.yml").read_text()
    vendored = root / "build" / "mathjax"
    (vendored / "output").mkdir(parents=True)
    (vendored / "tex-mml-chtml.js").write_text("// MathJax")
    assert runner.serve_mathjax(site, root)
    config = yaml.safe_load((site / "_config.yml").read_text())["sphinx"]["config"]
    assert config == {"nb_output_stderr": "remove", "html_static_path": ["_mathjax"],
                      "mathjax_path": "mathjax/tex-mml-chtml.js"}
    assert (site / "_mathjax" / "mathjax" / "tex-mml-chtml.js").read_text() == "// MathJax"
