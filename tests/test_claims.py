"""Claims: statistics over seeds, verdicts, and the results JSON and page built from them."""

import json
import math

import numpy as np
import pytest
import yaml

from kdutils import claims, report, results, runner


def test_paired_effect_by_hand_counts_seeds_and_test_images():
    # D[s, i] = treatment - control: seed means (0.5, 0, 0.5), image means (1/3, 1/3)
    treatment = [[1, 1], [1, 0], [1, 1]]
    control = [[0, 1], [1, 0], [1, 0]]
    e = claims.paired_effect(treatment, control)
    v_seed, v_image = np.var([0.5, 0.0, 0.5], ddof=1) / 3, 0.0
    assert e["effect"] == pytest.approx(1 / 3)
    assert e["se"] == pytest.approx(math.sqrt(v_seed + v_image)) and e["seeds"] == 3 and e["images"] == 2
    assert e["treatment_per_seed"] == [1.0, 0.5, 1.0] and e["control_per_seed"] == [0.5, 0.5, 0.5]


def test_paired_effect_with_one_number_per_seed_is_a_paired_t_interval():
    e = claims.paired_effect([1.0, 2.0, 3.0], [0.0, 0.0, 0.0])
    assert e["effect"] == 2.0 and e["se"] == pytest.approx(1 / math.sqrt(3)) and e["df"] == 2
    low, high = claims.interval(e["effect"], e["se"], e["df"], 0.95)
    half = 4.302652729911275 / math.sqrt(3)  # t(0.975, df=2) * sd / sqrt(n)
    assert (low, high) == (pytest.approx(2 - half), pytest.approx(2 + half))


def test_paired_effect_refuses_unpaired_or_too_little_data():
    with pytest.raises(ValueError, match=r"same seeds and test images; got shapes \(3,\) and \(4,\)"):
        claims.paired_effect([1, 2, 3], [1, 2, 3, 4])
    with pytest.raises(ValueError, match="at least 2 seeds"):
        claims.paired_effect([[1, 0]], [[0, 0]])
    with pytest.raises(ValueError, match="must be finite"):
        claims.paired_effect([1.0, float("nan")], [0.0, 0.0])


def scores(rng, seeds, images, p_correct):
    """Per-seed rows of 0/1 scores with the given accuracy."""
    return (rng.random((seeds, images)) < p_correct).astype(np.uint8)


@pytest.mark.parametrize("effect, margin, verdict", [
    (+0.10, 0.02, "reproduced"),     # a large gain: the CI excludes zero above it
    (-0.10, 0.02, "contradicted"),   # a large loss: the CI excludes zero below it
    (0.00, 0.05, "no effect"),       # identical arms, a margin wide enough: the CI lies inside it
    (0.00, None, "inconclusive"),    # identical arms but no margin declared: nothing can be concluded
    (+0.01, 0.002, "inconclusive"),  # a small gain the noise cannot separate from zero, nor the margin
])
def test_each_of_the_four_verdicts_is_reached(effect, margin, verdict):
    rng = np.random.default_rng(0)
    control = scores(rng, 5, 2000, 0.8)
    if effect == 0:
        treatment = control[[1, 2, 3, 4, 0]]  # the same models, seeds relabelled: no systematic difference
    else:
        treatment = scores(rng, 5, 2000, 0.8 + effect)
    claim = claims.compare("c", "s", "src", "m", treatment, control, scoring="last epoch", margin=margin)
    assert claim.verdict == verdict, claims.format_effect(claim)
    assert claim.kind == "comparative" and claim.role == "exploratory" and claim.numbers["ci_level"] == 0.95
    assert claim.protocol == {"seeds": 5, "test_images": 2000, "scoring": "last epoch",
                              "interval": "Student-t, noise from seeds and test images"}
    assert claim.reason.startswith(verdict)


def test_lower_is_better_flips_the_claimed_side():
    claim = claims.compare("c", "s", "src", "m", [10.0, 11.0, 12.0], [20.0, 21.0, 22.5], scoring="errors",
                           higher_is_better=False, scale=1.0, unit="errors")
    assert claim.verdict == "reproduced" and claim.numbers["effect"] == pytest.approx(10.1666, abs=1e-3)
    assert "effect +10.17 errors" in claims.format_effect(claim)


def test_equivalence_claims():
    same = claims.compare("c", "s", "src", "m", [0.80, 0.81, 0.80, 0.79], [0.80, 0.80, 0.81, 0.80],
                          scoring="x", margin=0.05, expects="equivalent")
    apart = claims.compare("c", "s", "src", "m", [0.90, 0.91, 0.90, 0.92], [0.80, 0.80, 0.81, 0.80],
                           scoring="x", margin=0.05, expects="equivalent")
    wide = claims.compare("c", "s", "src", "m", [0.90, 0.70, 0.80, 0.92], [0.80, 0.80, 0.81, 0.80],
                          scoring="x", margin=0.05, expects="equivalent")
    assert (same.verdict, apart.verdict, wide.verdict) == ("reproduced", "contradicted", "inconclusive")
    with pytest.raises(ValueError, match="an equivalence claim needs a margin"):
        claims.compare("c", "s", "src", "m", [1, 2], [1, 2], scoring="x", expects="equivalent")


def test_bad_margin_and_expectation_are_named():
    with pytest.raises(ValueError, match="margin must be a finite number > 0 or None; got -0.1"):
        claims.compare("c", "s", "src", "m", [1, 2], [1, 2], scoring="x", margin=-0.1)
    with pytest.raises(ValueError, match="expects must be 'better' or 'equivalent'; got 'worse'"):
        claims.compare("c", "s", "src", "m", [1, 2], [1, 2], scoring="x", expects="worse")


def test_holm_adjusted_p_values_on_a_known_case():
    # sorted: 0.005 * 4 = 0.02, 0.01 * 3 = 0.03, 0.03 * 2 = 0.06, 0.04 * 1 = 0.04 -> raised to 0.06
    assert claims.holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert claims.holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])


def test_holm_intervals_agree_with_the_step_down_decisions():
    from scipy import stats

    def claim_with_p(p):  # a claim whose effect is its two-sided normal quantile at p, in standard errors
        c = claims.compare("c", "s", "src", "m", [0.0, 1.0], [0.0, 0.0], scoring="x")
        c.numbers.update(effect=float(stats.norm.isf(p / 2)), se=1.0, df=1e9, p_value=p)
        return c

    # m = 2: 0.001 < 0.025 is rejected; 0.04 < 0.05 but Holm stops nothing there, it is rejected too
    first, second = claim_with_p(0.001), claim_with_p(0.04)
    claims.apply_holm([second, first])
    assert first.verdict == second.verdict == "reproduced"
    assert first.numbers["ci_level"] == pytest.approx(0.975) and second.numbers["ci_level"] == pytest.approx(0.95)
    # 0.03 >= 0.025 fails the first step, so 0.04 is not rejected either, and its interval says so
    first, second = claim_with_p(0.03), claim_with_p(0.04)
    claims.apply_holm([first, second])
    assert first.verdict == second.verdict == "inconclusive"
    assert second.numbers["ci_level"] == pytest.approx(0.975) and second.numbers["ci_low"] < 0
    assert first.numbers["p_holm"] == pytest.approx(0.06) and second.numbers["p_holm"] == pytest.approx(0.06)


def test_minimum_detectable_effect():
    # a normal test at 5%, 80% power: (1.95996 + 0.84162) standard errors
    assert claims.minimum_detectable_effect(1.0, 1e9) == pytest.approx(2.8016, abs=1e-3)
    claim = claims.compare("c", "s", "src", "m", [0.81, 0.83, 0.80, 0.82, 0.84], [0.80] * 5, scoring="x")
    assert claim.numbers["mde"] == pytest.approx(
        claims.minimum_detectable_effect(claim.numbers["se"], claim.numbers["df"]))


def test_the_interval_covers_a_known_effect_at_its_nominal_rate():
    """200 simulated experiments (5 seeds x 1000 test images drawn afresh) with a known true effect."""
    from numpy.polynomial.hermite_e import hermegauss

    rng = np.random.default_rng(12345)
    seeds, images, seed_sd, boost = 5, 1000, 0.3, 0.15

    def population_accuracy(shift):  # E[sigmoid(2 + u + e + shift)], u ~ N(0, 1) image, e ~ N(0, seed_sd^2) seed
        x, w = hermegauss(80)
        z = math.sqrt(1 + seed_sd**2) * x
        return float(np.sum(w / np.sqrt(2 * np.pi) / (1 + np.exp(-(2 + z + shift)))))

    truth = population_accuracy(boost) - population_accuracy(0.0)
    covered = 0
    for _ in range(200):
        difficulty = rng.normal(size=images)  # this test set's images

        def arm(shift):
            logit = 2 + difficulty[None, :] + rng.normal(0, seed_sd, size=(seeds, 1)) + shift
            return (rng.random((seeds, images)) < 1 / (1 + np.exp(-logit))).astype(np.uint8)

        claim = claims.compare("c", "s", "src", "m", arm(boost), arm(0.0), scoring="simulated")
        covered += claim.numbers["ci_low"] <= truth <= claim.numbers["ci_high"]
    assert covered / 200 >= 0.90, f"coverage {covered / 200:.3f} at nominal 0.95"


def test_a_chapter_declares_its_primary_claims_before_measuring(tmp_path, monkeypatch):
    monkeypatch.setenv("KD_RESULTS_DIR", str(tmp_path))
    run = results.Run("99_test", "smoke", [0, 1, 2])
    with pytest.raises(ValueError, match="1 to 3 primary claims; got 4"):
        run.declare_primary({"a": None, "b": None, "c": None, "d": None})
    run.declare_primary({"gain": 0.005, "other": 0.01})
    gain = claims.compare("gain", "s", "src", "m", [0.9, 0.91, 0.92], [0.8, 0.8, 0.81], scoring="x")
    assert run.add_claim(gain).role == "primary" and gain.numbers["margin"] == 0.005
    with pytest.raises(RuntimeError, match=r"declared but never measured: \['other'\]"):
        run.finish()
    with pytest.raises(ValueError, match="margin 0.02 differs from the 0.01 declared before the run"):
        run.add_claim(claims.compare("other", "s", "src", "m", [1, 2], [0, 1], scoring="x", margin=0.02))
    run.add_claim(claims.compare("other", "s", "src", "m", [1.0, 2.0, 3.0], [0.0, 1.0, 2.1], scoring="x"))
    run.add_claim(claims.compare("extra", "s", "src", "m", [1.0, 2.0, 3.0], [0.0, 1.0, 2.1], scoring="x"))
    finished = {c.id: c for c in run.finish()}
    assert finished["extra"].role == "exploratory" and finished["extra"].numbers["ci_level"] == 0.95
    assert finished["gain"].numbers["p_holm"] is not None and finished["gain"].numbers["ci_level"] == 0.975
    with pytest.raises(RuntimeError, match="declared before any claim is measured"):
        run.declare_primary({"late": None})


def test_check_exact():
    assert claims.check_exact("a", "s", "src", "m", 10.0000001, 10.0, 1e-6).verdict == "reproduced"
    assert claims.check_exact("a", "s", "src", "m", 10.1, 10.0, 1e-6).verdict == "not reproduced"
    with pytest.raises(ValueError, match="observed value is not finite"):
        claims.check_exact("a", "s", "src", "m", float("nan"), 0.0, 1.0)


def test_run_writes_json_with_environment_and_claims(tmp_path, monkeypatch):
    monkeypatch.setenv("KD_RESULTS_DIR", str(tmp_path))
    run = results.Run("99_test", "smoke", [0, 1, 2])
    run.metrics["accuracy"] = 0.5
    run.metrics["correct"] = np.array([1, 0, 1], dtype=np.uint8)  # per-image scores: one compact string
    run.data_source = "packaged: test"
    run.add_claim(claims.check_exact("x", "s", "src", "m", 1.0, 1.0, 0.0))
    with pytest.raises(ValueError, match="claim id 'x' is recorded twice"):
        run.add_claim(claims.check_exact("x", "s", "src", "m", 1.0, 1.0, 0.0))
    payload = json.loads(run.save().read_text())
    assert payload["claims"][0]["verdict"] == "reproduced" and payload["metrics"]["correct"] == "101"
    assert payload["environment"]["versions"]["torch"] and payload["wall_seconds"] >= 0
    assert results.load_results("smoke")[0]["notebook"] == "99_test"


def fake_results():
    exact = claims.check_exact("x", "Softmax | sums to one", "Hinton", "m", 1.0, 1.0, 0.0, section="sec-a")
    primary = claims.compare("y", "KD helps", "Hinton", "acc", [0.9, 0.91, 0.92], [0.8, 0.8, 0.81],
                             scoring="last epoch", margin=0.005, section="sec-b")
    primary.role = "primary"
    claims.apply_holm([primary])
    lead = claims.compare("z", "KD hurts sometimes", "blog", "acc", [0.9, 0.7, 0.95], [0.8, 0.85, 0.8],
                          scoring="last epoch")
    return [{"notebook": "01_kd_theory", "data_source": "d", "seeds": [0, 1, 2], "wall_seconds": 1.0,
             "claims": [c.as_dict() for c in (exact, primary, lead)], "environment": results.environment()}]


def test_results_page_summarises_plots_and_lists_every_claim(tmp_path):
    fake = fake_results()
    page = report.results_page("smoke", fake, forest=True)
    rows = [line for line in page.splitlines() if line.startswith("| ") and "**" in line]
    assert len(rows) == 3
    assert "Softmax \\| sums to one" in page and "**reproduced**" in page and "**inconclusive**" in page
    assert "| maths (exact) | 1 | 1 |" in page and "| primary empirical | 1 | 1 |" in page
    assert "| exploratory | 1 |  |  |  | 1 |" in page
    assert "```{figure} forest.png" in page and "| torch |" in page
    assert "{ref}`KD helps <sec-b>`" in page and "3 seeds" in page and "last epoch" in page
    assert "Holm-adjusted p" in page and "minimum detectable effect" in page
    titled = report.results_page("smoke", fake, {"01_kd_theory": "Knowledge distillation from first principles"})
    assert "## Knowledge distillation from first principles" in titled and "{doc}`../notebooks/01_kd_theory`" in titled
    assert report.forest_plot(fake, tmp_path / "forest.png") and (tmp_path / "forest.png").stat().st_size > 1000
    assert not report.forest_plot([], tmp_path / "none.png")


def test_findings_follow_the_verdicts():
    text = report.findings("smoke", fake_results(), {"01_kd_theory": "Theory"})
    assert text.startswith("## What this book found")
    assert "1 primary claims before running them: 1 reproduced, 0 contradicted, 0 no effect, 0 inconclusive" in text
    assert "- **Theory.** {ref}`KD helps <sec-b>` — **reproduced**" in text
    assert "1 of 1 mathematical checks held" in text and "1 inconclusive" in text


def test_results_page_without_runs_says_how_to_make_them():
    assert "python -m kdutils run --profile cpu" in report.results_page("cpu", [])


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


def test_runner_executes_notebooks_side_by_side_with_the_profiles_threads(tmp_path, monkeypatch):
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
            'import os, pathlib\nprint("threads", os.environ.get("OMP_NUM_THREADS"), os.environ.get("KD_WORKERS"))\n'
            f'results = pathlib.Path(os.environ["KD_RESULTS_DIR"])\nresults.mkdir(parents=True, exist_ok=True)\n'
            f'(results / "{name}.json").write_text("{{}}")')
        notebook = nbformat.v4.new_notebook(cells=[parameters, probe], metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
        nbformat.write(notebook, tmp_path / "notebooks" / f"{name}.ipynb")
    seconds = runner.run("smoke", jobs=2, root=tmp_path)
    assert sorted(seconds) == ["01_a", "02_b"] and all(s > 0 for s in seconds.values())
    for name in ("01_a", "02_b"):
        executed = nbformat.read(tmp_path / "build" / "smoke" / "site" / "notebooks" / f"{name}.ipynb", as_version=4)
        assert executed.cells[-1].outputs[0]["text"] == "threads 1 1\n"  # smoke's thread count; 2 cores / 2 jobs
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
