"""The results page, its forest plot, the chapters' verdict tables and the intro's findings."""

import re

import pytest

from kdbook import chapter, claims, report, results


def fake_results():
    """One chapter with a maths check, a primary claim and an exploratory one."""
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


def effect_claim(id, effect, spread=0.002, role="exploratory"):
    """A comparative claim with a chosen effect (as a fraction) and a narrow interval."""
    claim = claims.compare(
        id,
        f"statement of {id}",
        "src",
        "acc",
        [effect + 0.5 + spread * k for k in (-1, 0, 1)],
        [0.5, 0.5, 0.5],
        scoring="last epoch",
        section=f"sec-{id}",
    )
    claim.role = role
    return claim.as_dict()


def with_outlier():
    """Two chapters: a dozen effects within a few points, and one of +78 points."""
    bulk = [effect_claim(f"bulk-{k}", 0.01 * (k - 6)) for k in range(12)]
    return [
        {**fake_results()[0], "notebook": "02_a", "claims": bulk[:6]},
        {
            **fake_results()[0],
            "notebook": "03_b",
            "claims": [*bulk[6:], effect_claim("far-away", 0.78)],
        },
    ]


def cells(row: str) -> list[str]:
    """The cells of a Markdown table row (escaped pipes stay inside their cell)."""
    return [c.strip() for c in re.split(r"(?<!\\)\|", row.strip())[1:-1]]


def tables(page: str) -> list[list[list[str]]]:
    """Every Markdown table of a page, as rows of cells (header first, rule dropped)."""
    found, current = [], []
    for line in [*page.splitlines(), ""]:
        if line.startswith("|"):
            current.append(cells(line))
        elif current:
            found.append([r for r in current if set("".join(r)) != {"-"}])
            current = []
    return found


def test_results_page_summarises_plots_and_lists_every_claim(tmp_path):
    fake = fake_results()
    page = report.results_page("smoke", fake, forest=True)
    summary, chapter_table, environment = tables(page)
    assert summary[0] == ["verdict", "maths", "engineering", "primary", "exploratory"]
    assert ["reproduced", "1", "", "1", ""] in summary
    assert ["inconclusive", "", "", "", "1"] in summary and summary[-1][0] == "all"
    # one row per claim, its verdict in bold, first
    assert chapter_table[0] == ["verdict", "claim", "numbers"]
    assert [r[0] for r in chapter_table[1:]] == [
        "**reproduced**",
        "**reproduced**",
        "**inconclusive**",
    ]
    assert "Softmax \\| sums to one" in page
    assert "{ref}`Y <sec-b>`: KD helps *(primary)*" in page
    assert "```{figure} forest.png" in page and ":alt: Forest plot of the 2" in page
    # protocol and raw numbers, in a fold under the table
    fold = page[page.index(":::{dropdown} Protocol and raw numbers") :]
    fold = fold[: fold.index("\n:::\n")]
    assert "(`y`, primary)" in fold and "3 seeds" in fold and "last epoch" in fold
    assert "Holm-adjusted p" in fold and "minimum detectable effect" in fold
    assert (
        environment[0] == ["item", "value"]
        and ["CPUs", str(fake[0]["environment"]["cpu_count"])] in environment
    )
    titled = report.results_page(
        "smoke", fake, {"01_kd_theory": "Knowledge distillation from first principles"}
    )
    assert (
        "## Knowledge distillation from first principles" in titled
        and "{doc}`../notebooks/01_kd_theory`" in titled
    )


def test_results_page_tables_are_narrow_with_the_verdict_first():
    page = report.results_page("cpu", with_outlier() + fake_results(), forest=True)
    found = tables(page)
    assert len(found) == 1 + 3 + 1  # summary, one per chapter, environment
    for table in found:
        assert len({len(row) for row in table}) == 1, "ragged table"
        assert len(table[0]) <= 5
    for table in found[1:-1]:
        assert table[0][0] == "verdict"
        # the numbers cell holds the effect and its interval, not the protocol
        assert all(len(row[2]) <= 45 for row in table[1:]), table


def test_short_labels_read_as_phrases():
    label = lambda id: claims.short_label({"id": id})  # noqa: E731
    assert label("kd-beats-alone-800-800-T4") == "KD beats alone 800-800 T = 4"
    assert label("T2-factor-matters-at-high-T") == "T² factor matters at high T"
    assert label("hinton-30-units-T-2.5-4") == "Hinton 30 units T 2.5-4"
    assert label("soft-targets-regularise-3pct") == "Soft targets regularise 3%"
    assert label("kdutils-5x-faster-than-naive") == "kdutils 5x faster than naive"
    assert label("cnn-teacher-beats-vit-teacher") == "CNN teacher beats ViT teacher"


def test_brief_numbers_fit_a_cell():
    y = fake_results()[0]["claims"][1]
    assert re.fullmatch(
        r"\+10\.\d\d \[\+\d+\.\d\d,\u00a0\+\d+\.\d\d\] points", claims.brief_numbers(y)
    )
    assert claims.brief_numbers(fake_results()[0]["claims"][0]) == "1 (expected 1 ± 0)"


def test_forest_plot_keeps_to_the_bulk_and_shows_the_outlier(tmp_path):
    runs = with_outlier()
    comparative = [c for r in runs for c in r["claims"]]
    lo, hi = report.bulk_limits(comparative)
    assert -8 < lo < -5 and 5 < hi < 10  # the bulk spans -6..+5 points; not +78
    assert [c["id"] for c in report.clipped(comparative)] == ["far-away"]
    assert report.bulk_limits([]) == (-1.0, 1.0)
    alt = report.forest_alt(runs)
    assert "13 comparative claims" in alt and "Far away (+78.00 points)" in alt

    from matplotlib.text import Text

    fig = report.draw_forest(runs, {"02_a": "Chapter A: more", "03_b": "B"})
    texts = [t for t in fig.findobj(Text) if t.get_text() and t.get_visible()]
    shown = {t.get_text() for t in texts}
    assert {"Bulk 0", "Far away", "2 · Chapter A", "3 · B"} <= shown
    assert not shown & {c["id"] for c in comparative}, "labels are ids"
    assert any(t.startswith("+78.00 [") for t in shown), "the outlier's value"
    assert any("percentage points" in t for t in shown), "axis without its unit"
    assert {"reproduced", "primary (Holm CI)", "exploratory (95% CI)"} <= shown
    small = {t.get_text(): t.get_fontsize() for t in texts if t.get_fontsize() < 9}
    assert not small, f"text under 9 pt: {small}"
    width, _ = fig.get_size_inches() * report.FOREST_DPI
    assert width == report.FOREST_PX <= 676  # shown at its own size in the column

    assert report.forest_plot(runs, tmp_path / "forest.png")
    from PIL import Image

    assert Image.open(tmp_path / "forest.png").size[0] == report.FOREST_PX
    assert not report.forest_plot([], tmp_path / "none.png")


def test_chapter_verdicts_are_a_table_in_a_notebook(monkeypatch):
    run_claims = [claims.Claim(**c) for c in fake_results()[0]["claims"]]
    shown = []
    monkeypatch.setattr("IPython.get_ipython", lambda: object())
    monkeypatch.setattr(
        "IPython.display.display", lambda bundle, raw: shown.append((bundle, raw))
    )
    chapter.show_verdicts(run_claims)
    [(bundle, raw)] = shown
    assert raw and bundle["text/plain"].splitlines() == [
        c.summary() for c in run_claims
    ]
    [table] = tables(bundle["text/markdown"])
    assert table[0] == ["verdict", "claim", "numbers"] and len(table) == 4
    assert table[2][:2] == ["**reproduced**", "Y *(primary)*"]
    assert "{" not in bundle["text/markdown"], "no MyST roles: Jupyter shows them raw"
    assert "confidence interval" in bundle["text/markdown"]
    maths_only = chapter.verdict_markdown(run_claims[:1])
    assert "observed value" in maths_only and "confidence interval" not in maths_only


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


@pytest.mark.parametrize("notebook, number", [("02_mnist", "2"), ("10_x", "10")])
def test_chapter_names_in_the_plot(notebook, number):
    assert report.chapter_name(notebook, {}) == f"Chapter {number}"
    assert (
        report.chapter_name(notebook, {notebook: "Title: subtitle"})
        == f"{number} · Title"
    )
