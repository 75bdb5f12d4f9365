"""The results page, its forest plot and the intro's findings."""

from kdbook import claims, report, results


def fake_results():
    exact = claims.check_exact(
        "x", "Softmax | sums to one", "Hinton", "m", 1.0, 1.0, 0.0, section="sec-a"
    )
    primary = claims.compare(
        "y",
        "KD helps",
        "Hinton",
        "acc",
        [0.9, 0.91, 0.92],
        [0.8, 0.8, 0.81],
        scoring="last epoch",
        margin=0.005,
        section="sec-b",
    )
    primary.role = "primary"
    claims.apply_holm([primary])
    lead = claims.compare(
        "z",
        "KD hurts sometimes",
        "blog",
        "acc",
        [0.9, 0.7, 0.95],
        [0.8, 0.85, 0.8],
        scoring="last epoch",
    )
    return [
        {
            "notebook": "01_kd_theory",
            "data_source": "d",
            "seeds": [0, 1, 2],
            "wall_seconds": 1.0,
            "claims": [c.as_dict() for c in (exact, primary, lead)],
            "environment": results.environment(),
        }
    ]


def test_results_page_summarises_plots_and_lists_every_claim(tmp_path):
    fake = fake_results()
    page = report.results_page("smoke", fake, forest=True)
    rows = [
        line for line in page.splitlines() if line.startswith("| ") and "**" in line
    ]
    assert len(rows) == 3
    assert (
        "Softmax \\| sums to one" in page
        and "**reproduced**" in page
        and "**inconclusive**" in page
    )
    assert (
        "| maths (exact) | 1 | 1 |" in page and "| primary empirical | 1 | 1 |" in page
    )
    assert "| exploratory | 1 |  |  |  | 1 |" in page
    assert "```{figure} forest.png" in page and "| torch |" in page
    assert (
        "{ref}`KD helps <sec-b>`" in page and "3 seeds" in page and "last epoch" in page
    )
    assert "Holm-adjusted p" in page and "minimum detectable effect" in page
    titled = report.results_page(
        "smoke", fake, {"01_kd_theory": "Knowledge distillation from first principles"}
    )
    assert (
        "## Knowledge distillation from first principles" in titled
        and "{doc}`../notebooks/01_kd_theory`" in titled
    )
    assert (
        report.forest_plot(fake, tmp_path / "forest.png")
        and (tmp_path / "forest.png").stat().st_size > 1000
    )
    assert not report.forest_plot([], tmp_path / "none.png")


def test_findings_follow_the_verdicts():
    text = report.findings("smoke", fake_results(), {"01_kd_theory": "Theory"})
    assert text.startswith("## What this book found")
    assert (
        "1 primary claims before running them: 1 reproduced, 0 contradicted, 0 no effect, 0 inconclusive"
        in text
    )
    assert "- **Theory.** {ref}`KD helps <sec-b>` — **reproduced**" in text
    assert "1 of 1 mathematical checks held" in text and "1 inconclusive" in text


def test_results_page_without_runs_says_how_to_make_them():
    assert "python -m kdbook run --profile cpu" in report.results_page("cpu", [])
