"""The "When to distil" page: its words follow the verdicts, missing claims are said, the build writes it."""

import json
import re
from pathlib import Path

import nbformat
import pytest

from kdbook import advice, claims, results, runner
from kdbook.claims import NOT_TESTABLE, format_effect

ROOT = Path(__file__).resolve().parent.parent
CHECKS = {  # the cited claims that are checks, not comparisons
    "adam-ignores-gradient-scale": "exact",
    "kd-epoch-costs-like-scratch": "bound",
    "kdutils-5x-faster-than-naive": "bound",
}
INTERVALS = {  # (effect, low, high) consistent with each verdict, margin 0.005
    "reproduced": (0.02, 0.01, 0.03),
    "contradicted": (-0.02, -0.03, -0.01),
    "no effect": (0.001, -0.002, 0.004),
    "inconclusive": (0.004, -0.017, 0.025),
    NOT_TESTABLE: (0.01, -0.01, 0.03),
}
LEADS = [lead for q in advice.QUESTIONS for lead in q.leads]


def fake_claim(claim_id: str, verdict: str) -> dict:
    kind = CHECKS.get(claim_id, "comparative")
    claim = {
        "id": claim_id,
        "statement": f"Statement of {claim_id}.",
        "kind": kind,
        "role": "primary" if kind == "comparative" else None,
        "section": f"sec-{claim_id}",
    }
    if kind == "exact":
        numbers = {"observed": 0.001, "expected": 0.0, "tolerance": 0.01}
    elif kind == "bound":
        numbers = {"observed": 1.3, "bound": 1.1, "at_most": True}
    else:
        effect, low, high = INTERVALS[verdict]
        testable = verdict != NOT_TESTABLE
        numbers = {
            "effect": effect,
            "ci_low": low,
            "ci_high": high,
            "ci_level": 0.95,
            "margin": 0.005,
            "scale": 100.0,
            "unit": "points",
            "expects": "better",
            "headroom": {
                "teacher_error": 0.02 if testable else 0.09,
                "student_error": 0.1,
                "ratio": 0.2 if testable else 0.9,
                "testable": testable,
            },
        }
    if kind != "comparative" and verdict != "reproduced":
        verdict = "not reproduced"  # what a check that failed reads
    return claim | {"numbers": numbers, "verdict": verdict}


def fake_results(verdict_of, drop=(), metrics=None) -> list[dict]:
    """One result holding every claim the page cites (less ``drop``), verdicts from ``verdict_of``."""
    ids = [i for i in advice.claim_ids() if i not in drop]
    payload = {
        "notebook": "00_fake",
        "claims": [fake_claim(i, verdict_of(i)) for i in ids],
        "metrics": {},
    }
    extra = [
        {"notebook": name, "claims": [], "metrics": m}
        for name, m in (metrics or {}).items()
    ]
    return [payload, *extra]


def page_for(verdict: str, **kwargs) -> str:
    return advice.advice_page("cpu", fake_results(lambda i: verdict, **kwargs))


def bullet(page: str, claim_id: str) -> str:
    (line,) = [
        line
        for line in page.splitlines()
        if line.startswith("- ") and f"<sec-{claim_id}>" in line
    ]
    return line


@pytest.mark.parametrize("verdict", ["reproduced", "contradicted"])
def test_a_decided_claim_gives_its_advice_and_never_the_other(verdict):
    page = page_for(verdict)
    for lead in LEADS:
        line = bullet(page, lead.claim)
        said, unsaid = (
            (lead.held, lead.opposite)
            if verdict == "reproduced"
            else (lead.opposite, lead.held)
        )
        assert line.startswith(f"- {said}") and unsaid not in page, lead.claim


@pytest.mark.parametrize(
    "verdict, opening",
    [
        ("inconclusive", "We could not tell whether"),
        ("no effect", "As to whether"),
        (NOT_TESTABLE, "We could not test whether"),
    ],
)
def test_an_undecided_claim_says_so_with_its_interval(verdict, opening):
    page = page_for(verdict)
    for lead in LEADS:
        if lead.claim in CHECKS:
            continue  # a check is reproduced or not: covered above
        line = bullet(page, lead.claim)
        assert line.startswith(f"- {opening} {lead.whether}"), line
        assert lead.held not in line and lead.opposite not in line
        claim = fake_claim(lead.claim, verdict)
        assert f"**{verdict}**, {format_effect(claim)}" in line
        # linked to the section that measured it
        assert f"{{ref}}`Statement of {lead.claim}. <sec-{lead.claim}>`" in line
    if verdict == NOT_TESTABLE:
        assert "teacher's test error (9.0%) was not at most 0.6 times" in page


def test_same_claims_other_verdicts_other_words():
    pages = {v: page_for(v) for v in ("reproduced", "contradicted", "inconclusive")}
    summaries = {
        v: advice.advice_summary("cpu", fake_results(lambda i, v=v: v)) for v in pages
    }
    assert len(set(pages.values())) == 3 and len(set(summaries.values())) == 3
    assert "helped in 9" in pages["reproduced"] and "hurt in 9" in pages["contradicted"]
    assert "in 9 we could not tell" in summaries["inconclusive"]


def test_a_missing_claim_is_said_and_nothing_crashes():
    page = page_for("reproduced", drop=advice.claim_ids())
    for lead in LEADS:
        assert f"no result on whether {lead.whether} (claim `{lead.claim}`" in page
    assert "This build has no comparison of a distilled student" in page
    assert "lacks the comparisons of a large and a small student" in page
    empty = advice.advice_page("cpu", [])
    assert "```{warning}" in empty and "kdbook run --profile cpu" in empty
    assert "No runs of profile `cpu` yet" in advice.advice_summary("cpu", [])


def test_teacher_answer_counts_the_distilled_vs_alone_verdicts():
    ids = advice.DISTILLED_VS_ALONE
    mixed = dict(zip(ids, ["reproduced"] * 2 + ["contradicted"] + [NOT_TESTABLE]))
    results = fake_results(lambda i: mixed.get(i, "inconclusive"))
    text = advice.teacher_headline(advice.claims_by_id(results))
    tested = len(ids) - 1
    assert text.startswith(f"Of {tested} comparisons")
    assert "(teacher error 0.20 times the student's)" in text
    assert f"helped in 2, hurt in 1 and in {tested - 3} we could not tell" in text
    assert "needed, not enough" in text and "1 more had a teacher that failed" in text
    every = advice.claims_by_id(fake_results(lambda i: "reproduced"))
    assert "Every time the teacher passed the rule" in advice.teacher_headline(every)


@pytest.mark.parametrize(
    "large, small, expected",
    [
        (
            "reproduced",
            "contradicted",
            "The gain went to the large student and cost the small one",
        ),
        ("reproduced", "inconclusive", "The gain went to the large student:"),
        ("reproduced", "reproduced", "Both sizes gained here"),
        ("inconclusive", "reproduced", "the opposite of the capacity gap"),
        ("contradicted", "contradicted", "Neither size clearly gained"),
    ],
)
def test_size_answer_compares_the_large_and_the_small_student(large, small, expected):
    (_, large_ids), _ = advice.SIZES
    results = fake_results(lambda i: large if i in large_ids else small)
    assert expected in advice.size_headline(advice.claims_by_id(results))


@pytest.mark.parametrize(
    "long_run, effect, caveat",
    [
        ("inconclusive", 0.004, True),
        ("contradicted", -0.008, True),
        ("reproduced", 0.004, False),
        ("inconclusive", 0.015, False),
    ],
)
def test_patience_caveat_only_when_the_long_run_did_not_pull_ahead(
    long_run, effect, caveat
):
    verdicts = {advice.PATIENCE: "reproduced", advice.FM_LONG: long_run}
    found = advice.claims_by_id(fake_results(lambda i: verdicts.get(i, "inconclusive")))
    found[advice.PATIENCE]["numbers"]["effect"] = 0.024
    found[advice.FM_LONG]["numbers"]["effect"] = effect
    assert advice.patience_caught_up(found) is caveat
    note = " ".join(advice.patience_note([], found))
    assert bool(note) is caveat
    headline = advice.length_headline(found)
    # behind the fixed teacher is not "caught up"
    behind = long_run == "contradicted"
    assert ("still trailed" in note) is behind and ("catch up" in note) is (
        caveat and not behind
    )
    assert ("still trailed" in headline) is behind


def test_notes_describe_the_recorded_sweeps_and_skip_what_is_absent():
    students = {
        "20-20 | alone": [{"accuracy": 0.90}, {"accuracy": 0.92}],
        "20-20 | big": [{"accuracy": 0.88}],
        "20-20 | weak": [{"accuracy": 0.93}],
    }
    teachers = {"big": {"accuracy": 0.98}, "weak": {"accuracy": 0.91}}
    metrics = {
        advice.GAP_CHAPTER: {"students": students, "teachers": teachers},
        advice.SWEEP_CHAPTER: {"alpha_sweep": {"0.0": [0.90, 0.92], "1.0": [0.95]}},
    }
    page = page_for("inconclusive", metrics=metrics)
    assert (
        "Alone it scored 91.0%; distilled from big 88.0% (teacher passes the rule); "
        in page
    )
    assert "weak 93.0% (teacher fails the rule)" in page
    assert "1 of 2 distilled students scored below the student alone, 1 of them" in page
    assert "91.0% at 0.0, 95.0% at 1.0" in page and "a spread of 4.00 points" in page
    bare = page_for("inconclusive")
    assert "Chapter 6 distilled" not in bare
    assert "No claim in this book compares values of alpha" in bare


def test_intro_summary_links_each_short_answer_to_the_page():
    results = fake_results(lambda i: "reproduced")
    summary = advice.advice_summary("cpu", results)
    page = advice.advice_page("cpu", results)
    bullets = [line for line in summary.splitlines() if line.startswith("- **")]
    assert 3 <= len(bullets) <= 6
    for line in bullets:
        (label,) = re.findall(r"\{ref\}`details <([\w-]+)>`", line)
        assert f"({label})=" in page
    assert f"{{doc}}`{advice.PAGE}`" in summary


def test_every_cited_claim_is_in_the_cpu_build():
    folder = ROOT / "build" / "cpu" / "results"
    if not any(folder.glob("*.json")):
        pytest.skip("no cpu results: run `make book` first")
    measured = {
        c["id"]
        for p in folder.glob("*.json")
        for c in json.loads(p.read_text())["claims"]
    }
    assert set(advice.claim_ids()) <= measured, set(advice.claim_ids()) - measured


def test_stage_book_writes_the_page_and_the_intro_summary(tmp_path):
    (tmp_path / "book").mkdir()
    (tmp_path / "book" / "intro.md").write_text("# Intro\n")
    (tmp_path / "_config.yml").write_text("title: t\n")
    toc = "format: jb-book\nroot: book/intro\nchapters:\n  - file: notebooks/01_x\n"
    (tmp_path / "_toc.yml").write_text(toc)
    for package in ("kdutils", "kdbook"):
        (tmp_path / package).mkdir()
    site = tmp_path / "build" / "cpu" / "site"
    (site / "notebooks").mkdir(parents=True)
    nbformat.write(nbformat.v4.new_notebook(), site / "notebooks" / "01_x.ipynb")
    assistant = (
        claims.compare(  # a real claim, as a chapter records it: the assistant hurt
            "assistant-beats-direct",
            "An assistant helps.",
            "Mirzadeh et al. 2020",
            "test accuracy",
            [0.80, 0.81, 0.79],
            [0.90, 0.91, 0.92],
            scoring="last epoch",
            margin=0.005,
            section="sec-a",
            headroom=claims.headroom(0.98, [0.9, 0.9, 0.9], 0.99),
        )
    )
    payload = {
        "notebook": "01_x",
        "data_source": "d",
        "seeds": [0, 1, 2],
        "wall_seconds": 1.0,
        "metrics": {},
        "claims": [assistant.as_dict()],
        "environment": results.environment(),
    }
    folder = tmp_path / "build" / "cpu" / "results"
    folder.mkdir()
    (folder / "01_x.json").write_text(json.dumps(payload))
    runner.stage_book("cpu", root=tmp_path)
    page = (site / "book" / f"{advice.PAGE}.md").read_text()
    assert page.startswith("# When to distil")
    assert advice.LEADS["assistant-beats-direct"].opposite in page
    intro = (site / "book" / "intro.md").read_text()
    assert intro.index("## What this book found") < intro.index(
        "## When to distil, in short"
    )
