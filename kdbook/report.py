"""Report: the book's results page, its forest plot and the intro's findings, generated from the runs' JSON.

Everything here is sized for the book's content column, 676 px wide in a 1280 px browser window:
tables have three to five short columns with the verdict first, the long protocol text sits in
folded blocks, and the forest plot is drawn at that width so that its text is not scaled down.
"""

from __future__ import annotations

from pathlib import Path

from . import power
from .claims import (
    COMPARATIVE_VERDICTS,
    HEADROOM_RATIO,
    MAX_PRIMARY,
    NOT_POWERED,
    NOT_TESTABLE,
    brief_numbers,
    check_numbers,
    format_effect,
    short_label,
    signed_format,
)

# what a comparative claim can end in
OUTCOMES = (*COMPARATIVE_VERDICTS, NOT_TESTABLE, NOT_POWERED)

VERDICT_COLOURS = {
    "reproduced": "#1b7837",
    "contradicted": "#c51b7d",
    "no effect": "#4575b4",
    "inconclusive": "#e08214",
    NOT_TESTABLE: "#9e9e9e",
    NOT_POWERED: "#bdbdbd",
}
GROUPS = (  # (column, test on a claim), in the order the summary lists them
    ("maths", lambda c: c["kind"] == "exact"),
    ("engineering", lambda c: c["kind"] == "bound"),
    ("primary", lambda c: c["kind"] == "comparative" and c["role"] == "primary"),
    ("exploratory", lambda c: c["kind"] == "comparative" and c["role"] != "primary"),
)
FOREST_FILE = "forest.png"
# the book's content column is 676 px wide in a 1280 px window (sphinx-book-theme); a figure
# inside it has 8 px of margin on each side, so the plot is saved 660 px wide and shown at its
# own size: at 100 dpi, 1 pt is 1.39 px on screen
FOREST_PX = 660
FOREST_DPI = 100
FOREST_FONT = 9  # points, at that size
UNIT_NAMES = {"points": "percentage points", "cosine": "cosine similarity"}


def table_cell(text: object) -> str:
    """``text`` on one line, its pipes escaped, for a Markdown table cell."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def numbers_text(claim: dict) -> str:
    """The measured numbers of a claim, for a table cell."""
    n = claim["numbers"]
    if claim["kind"] != "comparative":
        return check_numbers(claim)
    scale, unit = n["scale"], n["unit"]
    mean = lambda values: sum(values) / len(values)  # noqa: E731
    text = (
        f"treatment {scale * mean(n['treatment_per_seed']):.2f} vs control "
        f"{scale * mean(n['control_per_seed']):.2f} {unit} (means over seeds); "
        f"{format_effect(claim)}; minimum detectable effect {scale * n['mde']:.2f} {unit}"
    )
    if n["p_holm"] is not None:
        text += f"; Holm-adjusted p = {n['p_holm']:.3g}"
    if n.get("headroom"):
        h = n["headroom"]
        text += (
            f"; headroom: teacher error {h['teacher_error']:.1%} vs student alone "
            f"{h['student_error']:.1%} (ratio {h['ratio']:.2f}, testable at ≤ {HEADROOM_RATIO:g}); "
            f"teacher on the student's training images {h['teacher_train_accuracy']:.1%}"
        )
    return text


def protocol_text(claim: dict) -> str:
    """Seeds, test images, scoring and interval of a claim, in one phrase (empty if none)."""
    p = claim.get("protocol") or {}
    if not p:
        return ""
    images = f", {p['test_images']} test images" if p.get("test_images") else ""
    return f"{p['seeds']} seeds{images}; {p['scoring']}; {p['interval']}"


def claim_link(claim: dict, text: str | None = None) -> str:
    """``text`` (the claim's statement by default), linked to the section that measured it."""
    text = table_cell(claim["statement"] if text is None else text)
    return f"{{ref}}`{text} <{claim['section']}>`" if claim.get("section") else text


def role_name(claim: dict) -> str:
    """What kind of claim it is, in one word: primary, exploratory, maths or engineering."""
    return claim["role"] or {"exact": "maths", "bound": "engineering"}[claim["kind"]]


def verdict_table(claims: list[dict], describe) -> list[str]:
    """A three-column table, verdict first: | verdict | claim | numbers |."""
    lines = ["| verdict | claim | numbers |", "|---|---|---|"]
    lines += [
        f"| **{c['verdict']}** | {describe(c)} | {table_cell(brief_numbers(c))} |"
        for c in claims
    ]
    return lines


def page_claim_cell(claim: dict) -> str:
    """The results page's claim cell: the short name linked to its section, the statement, the role."""
    return (
        f"{claim_link(claim, short_label(claim))}: {table_cell(claim['statement'])} "
        f"*({role_name(claim)})*"
    )


def claim_details(claim: dict) -> str:
    """One list item with everything a claim's row leaves out: source, protocol, raw numbers."""
    protocol = protocol_text(claim)
    return (
        f"- **{table_cell(short_label(claim))}** (`{claim['id']}`, {role_name(claim)}). "
        f"*Source:* {table_cell(claim['source'])}. "
        f"*Measured:* {table_cell(claim['measurement'])}. "
        + (f"*Protocol:* {table_cell(protocol)}. " if protocol else "")
        + f"*Numbers:* {table_cell(numbers_text(claim))}."
    )


def details_block(claims: list[dict]) -> list[str]:
    """The chapter's protocol and raw numbers, folded in a dropdown under its table."""
    return [
        ":::{dropdown} Protocol and raw numbers",
        "",
        *(claim_details(c) for c in claims),
        ":::",
    ]


def summary_table(claims: list[dict]) -> list[str]:
    """How many claims of each kind ended in each verdict: one row per verdict."""
    lines = [
        "| verdict | " + " | ".join(label for label, _ in GROUPS) + " |",
        "|---|" + "---|" * len(GROUPS),
    ]
    groups = [[c for c in claims if belongs(c)] for _, belongs in GROUPS]
    for verdict in (*OUTCOMES, "not reproduced"):
        counts = [sum(c["verdict"] == verdict for c in g) for g in groups]
        lines.append(
            f"| {verdict} | " + " | ".join(str(n or "") for n in counts) + " |"
        )
    lines.append("| all | " + " | ".join(str(len(g)) for g in groups) + " |")
    return lines


def chapter_name(notebook: str, titles: dict[str, str]) -> str:
    """``2 · The MNIST teacher and student``: the chapter's number and its title up to a colon."""
    number = notebook.split("_")[0].lstrip("0") or "0"
    title = titles.get(notebook, "").split(":")[0].strip()
    return f"{number} · {title}" if title else f"Chapter {number}"


def forest_rows(results: list[dict]) -> list[tuple[str, dict]]:
    """(notebook, claim) for every comparative claim, in the book's order."""
    return [
        (r["notebook"], c)
        for r in results
        for c in r["claims"]
        if c["kind"] == "comparative"
    ]


def bulk_limits(claims: list[dict]) -> tuple[float, float]:
    """The x range that holds the bulk of the intervals (in display units), zero and the margins.

    Interval ends more than 2 IQR past the quartiles of all ends (Tukey-style fences) are left out, so
    one very large effect or one very wide interval does not squeeze every other interval to a dot.
    """
    import numpy as np

    ends = np.array(
        [
            c["numbers"]["scale"] * c["numbers"][k]
            for c in claims
            for k in ("ci_low", "ci_high")
        ]
    )
    ends = ends[np.isfinite(ends)]
    if not ends.size:  # no interval to draw: a unit range around zero
        return -1.0, 1.0
    q1, q3 = np.percentile(ends, [25, 75])
    fence = 2 * (q3 - q1)
    bulk = ends[(ends >= q1 - fence) & (ends <= q3 + fence)]
    margins = [c["numbers"]["scale"] * (c["numbers"]["margin"] or 0) for c in claims]
    lo = min(bulk.min(), 0.0, *(-m for m in margins))
    hi = max(bulk.max(), 0.0, *margins)
    pad = 0.06 * (hi - lo or 1.0)
    return float(lo - pad), float(hi + pad)


def clipped(claims: list[dict]) -> list[dict]:
    """The claims whose effect lies off the plot's x range (drawn as arrows with their value)."""
    lo, hi = bulk_limits(claims)
    return [
        c
        for c in claims
        if not lo <= c["numbers"]["scale"] * c["numbers"]["effect"] <= hi
    ]


def _draw_claim(ax, y: float, claim: dict, lo: float, hi: float) -> None:
    """One row: the margin band, the interval (arrow-tipped where it runs off), the effect."""
    import matplotlib.pyplot as plt

    n, scale = claim["numbers"], claim["numbers"]["scale"]
    colour = VERDICT_COLOURS[claim["verdict"]]
    if n["margin"] is not None:
        m = scale * n["margin"]
        ax.add_patch(plt.Rectangle((-m, y - 0.4), 2 * m, 0.8, color="0.85", lw=0))
    low, high, effect = (scale * n[k] for k in ("ci_low", "ci_high", "effect"))
    ax.plot(
        [max(low, lo), min(high, hi)], [y, y], color=colour, lw=2, solid_capstyle="butt"
    )
    for end, edge, side in ((low, lo, -1), (high, hi, 1)):
        if side * (end - edge) > 0:  # the interval runs past the axis on this side
            _edge_arrow(ax, edge, y, side, colour)
    primary = claim["role"] == "primary"
    if lo <= effect <= hi:
        ax.plot(
            effect,
            y,
            "D" if primary else "o",
            color=colour,
            mfc=colour if primary else "white",
            ms=6,
            mew=1.5,
        )
        return
    # an effect off the axis: its value, next to the arrow at the edge it lies beyond
    right, number = effect > hi, signed_format(n["unit"])
    ax.annotate(
        f"{number(effect)} [{number(low)}, {number(high)}]",
        xy=(hi if right else lo, y),
        xytext=(-14 if right else 14, 0),
        textcoords="offset points",
        ha="right" if right else "left",
        va="center",
        fontsize=FOREST_FONT,
        color=colour,
        bbox={"boxstyle": "square,pad=0.1", "fc": "white", "ec": "none"},
    )


def _edge_arrow(ax, edge: float, y: float, side: int, colour: str) -> None:
    """An arrowhead with its tip on the axis edge, pointing off the plot."""
    ax.annotate(
        "",
        xy=(edge, y),
        xytext=(-side * 9, 0),
        textcoords="offset points",
        arrowprops={
            "arrowstyle": "-|>",
            "color": colour,
            "lw": 2,
            "mutation_scale": 12,
        },
    )


def _draw_unit(ax, group: list[tuple[str, dict]], titles: dict[str, str]) -> None:
    """One panel: the claims measured in one unit, grouped under their chapter's name."""
    from matplotlib.transforms import blended_transform_factory

    claims = [c for _, c in group]
    lo, hi = bulk_limits(claims)
    header = blended_transform_factory(ax.figure.transFigure, ax.transData)
    ticks, labels, y, chapter = [], [], 0.0, None
    for notebook, claim in group:  # top to bottom: y counts down
        if notebook != chapter:
            chapter = notebook
            ax.text(
                0.01,
                y,
                chapter_name(notebook, titles),
                transform=header,
                fontsize=FOREST_FONT,
                fontweight="bold",
                va="center",
            )
            ax.axhline(y + 0.5, color="0.8", lw=0.6)
            y -= 1
        _draw_claim(ax, y, claim, lo, hi)
        ticks.append(y)
        labels.append(short_label(claim))
        y -= 1
    ax.set_yticks(ticks, labels, fontsize=FOREST_FONT)
    ax.tick_params(axis="y", length=0)
    ax.tick_params(axis="x", labelsize=FOREST_FONT)
    ax.axvline(0, color="k", lw=0.8)
    ax.set_xlim(lo, hi)
    ax.set_ylim(y + 0.5, 0.5)
    unit = claims[0]["numbers"]["unit"]
    ax.set_xlabel(
        f"effect on the claimed side ({UNIT_NAMES.get(unit, unit)})",
        fontsize=FOREST_FONT,
    )
    ax.grid(axis="x", color="0.92", lw=0.6)
    ax.set_axisbelow(True)


def _legend_handles() -> list:
    """Verdict colours, primary versus exploratory, the margin band and the clipping arrow."""
    import matplotlib.pyplot as plt

    handles = [
        plt.Line2D([], [], color=col, lw=2, label=v)
        for v, col in VERDICT_COLOURS.items()
    ]
    return handles + [
        plt.Line2D([], [], color="k", marker="D", ls="", label="primary (Holm CI)"),
        plt.Line2D(
            [],
            [],
            color="k",
            marker="o",
            mfc="white",
            ls="",
            label="exploratory (95% CI)",
        ),
        plt.Rectangle((0, 0), 1, 1, color="0.85", label="± declared margin"),
        plt.Line2D([], [], color="k", marker=">", ls="", label="runs off the axis"),
    ]


def forest_plot(
    results: list[dict], path: Path, titles: dict[str, str] | None = None
) -> bool:
    """Save the forest plot of every comparative claim at ``path``; False if there is none."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = draw_forest(results, titles or {})
    if fig is None:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=FOREST_DPI)
    plt.close(fig)
    return True


def draw_forest(results: list[dict], titles: dict[str, str]):
    """The forest plot: each claim's effect and interval by chapter, coloured by verdict."""
    import matplotlib.pyplot as plt

    rows = forest_rows(results)
    if not rows:
        return None
    units = list(dict.fromkeys(c["numbers"]["unit"] for _, c in rows))
    groups = [[(nb, c) for nb, c in rows if c["numbers"]["unit"] == u] for u in units]
    # rows plus one header per chapter, plus room for the axis labels
    heights = [len(g) + len({nb for nb, _ in g}) + 2.5 for g in groups]
    row_inches = 0.24  # a 9 pt label and some air
    fig, axes = plt.subplots(
        len(units),
        1,
        squeeze=False,
        figsize=(FOREST_PX / FOREST_DPI, row_inches * sum(heights) + 1.3),
        gridspec_kw={"height_ratios": heights},
        layout="constrained",
    )
    for ax, group in zip(axes[:, 0], groups):
        _draw_unit(ax, group, titles)
    fig.legend(
        handles=_legend_handles(),
        fontsize=FOREST_FONT,
        loc="outside upper center",
        ncol=3,
        frameon=False,
        handlelength=1.5,
        columnspacing=1.2,
    )
    return fig


def forest_alt(results: list[dict]) -> str:
    """The forest plot's alt text: what it shows, with the counts and the effects drawn off the axis."""
    rows = forest_rows(results)
    claims = [c for _, c in rows]
    counts = ", ".join(
        f"{n} {v}" for v in OUTCOMES if (n := sum(c["verdict"] == v for c in claims))
    )
    text = (
        f"Forest plot of the {len(claims)} comparative claims, grouped by chapter: each "
        "claim's effect and confidence interval on the side it names, positive meaning as "
        f"claimed, coloured by verdict ({counts})."
    )
    by_unit = {}
    for c in claims:
        by_unit.setdefault(c["numbers"]["unit"], []).append(c)
    off = [
        f"{short_label(c)} "
        f"({signed_format(unit)(c['numbers']['scale'] * c['numbers']['effect'])} {unit})"
        for unit, group in by_unit.items()
        for c in clipped(group)
    ]
    if off:
        text += " Drawn as arrows at the edge, beyond the axis: " + "; ".join(off) + "."
    return text


def results_page(
    profile: str,
    results: list[dict],
    titles: dict[str, str] | None = None,
    forest: bool = False,
) -> str:
    """The book's results page (MyST markdown): a summary, the forest plot, and one table per chapter."""
    titles = titles or {}
    lines = [
        "# Results",
        "",
        f"Every claim the book makes, as measured by the runs of profile `{profile}`. This page is "
        "generated by `python -m kdbook book` from the JSON each notebook writes; no number here is "
        "typed in.",
        "",
        "*Maths* claims are checked to a tolerance and *engineering* claims against a target. "
        "*Comparative* claims compare a treatment with a control, paired by seed and test image, and end "
        "in one of four verdicts read off a confidence interval (CI) of the effect: **reproduced** (the CI "
        "excludes zero on the claimed side), **contradicted** (it excludes zero on the other side), "
        "**no effect** (the CI lies inside the margin declared before the run) and **inconclusive** "
        "(the run cannot tell). The intervals count two sources of noise: seeds (training randomness) "
        "and test images (the test set is one sample). Each chapter declares at most "
        f"{MAX_PRIMARY} *primary* "
        "claims with their margins before it runs; their intervals are corrected with Holm's method "
        "within the chapter. The other comparative claims are *exploratory*, at 95% without correction: "
        "read them as leads, not findings. A claim about distillation is tested only where its setting "
        f"holds, a teacher clearly better than the student trained alone (test error at most "
        f"{HEADROOM_RATIO:g} times the student's); elsewhere it is **{NOT_TESTABLE}**, with its numbers. "
        "Each accuracy claim also has a power plan (below): where its design could not detect the "
        "effect it looks for and its interval does not decide, an exploratory claim is "
        f"**{NOT_POWERED}**.",
        "",
    ]
    if not results:
        lines += [
            "```{warning}",
            f"No results were found for profile `{profile}`: run "
            f"`python -m kdbook run --profile {profile}` first.",
            "```",
            "",
        ]
        return "\n".join(lines)
    claims = [c for r in results for c in r["claims"]]
    lines += [
        "## Summary",
        "",
        f"**{len(claims)} claims**, by verdict and kind:",
        "",
        *summary_table(claims),
        "",
    ]
    if forest:
        lines += forest_section(results)
    lines += power_section(results, titles)
    for r in results:
        lines += chapter_section(r, titles)
    lines += environment_section(results[0]["environment"])
    return "\n".join(lines)


def power_section(results: list[dict], titles: dict[str, str]) -> list[str]:
    """The power plan: per accuracy claim, the effect it must detect, the MDE planned from an
    earlier build's noise, and the MDE the run achieved."""
    planned = [c for r in results for c in r["claims"] if c["numbers"].get("plan")]
    if not planned:
        return []
    powered = [c for c in planned if c["numbers"]["plan"]["powered"]]
    comparative = [
        c for r in results for c in r["claims"] if c["kind"] == "comparative"
    ]
    judged = [c for c in comparative if c["verdict"] not in (NOT_POWERED, NOT_TESTABLE)]
    decided = [c for c in judged if c["verdict"] != "inconclusive"]
    lines = [
        "## Power plan",
        "",
        "Before the runs, each accuracy claim got a target: the effect its source reports, at "
        f"most {100 * power.TARGET_CAP:g} points (or {100 * power.TARGET_CAP:g} where the source "
        "reports none we can compare). From the noise of an earlier build "
        f"({power.baseline_build()}), per seed and per test image, the plan predicts the minimum "
        "detectable effect (MDE, 80% power) of each claim's design: its seeds and test images. "
        f"{len(powered)} of the {len(planned)} planned claims were powered. Of the "
        f"{len(judged)} comparative claims the runs could judge (neither {NOT_POWERED} nor "
        f"{NOT_TESTABLE}), {len(decided)} ended decisive: reproduced, contradicted or no "
        "effect.",
        "",
        "| claim | target | planned MDE | achieved MDE | seeds × images |",
        "|---|---|---|---|---|",
    ]
    for c in planned:
        n, p = c["numbers"], c["numbers"]["plan"]
        mde = "—" if p["planned_mde"] is None else f"{100 * p['planned_mde']:.2f}"
        mark = "" if p["powered"] is not False else " (not powered)"
        lines.append(
            f"| {claim_link(c, short_label(c))} | {100 * p['target']:.2f} | {mde}{mark} | "
            f"{100 * n['mde']:.2f} | {n['seeds']} × {n['images'] or '—'} |"
        )
    return [*lines, ""]


def forest_section(results: list[dict]) -> list[str]:
    """The forest plot's section: the figure at its own width, alt text, caption."""
    return [
        "## Every comparative claim",
        "",
        "```{figure} " + FOREST_FILE,
        ":name: forest-plot",
        f":alt: {forest_alt(results)}",
        "",
        "Effect of every comparative claim on the side the claim names (positive: as claimed), "
        "with its confidence interval, coloured by verdict, grouped by chapter. Grey bands: the "
        "margin declared before the run. Diamonds: primary claims (Holm-corrected intervals); "
        "circles: exploratory ones (95%). The axis keeps to the bulk of the intervals: an "
        "interval that runs past it ends in an arrow, and an effect beyond it is printed with its "
        "interval at the edge.",
        "```",
        "",
    ]


def chapter_section(result: dict, titles: dict[str, str]) -> list[str]:
    """One chapter's claims: a line on its run, the verdict table, the protocol folded below."""
    return [
        f"## {titles.get(result['notebook'], result['notebook'])}",
        "",
        f"Chapter: {{doc}}`../notebooks/{result['notebook']}`. "
        f"Data: {table_cell(result['data_source'] or 'none')}. Seeds: {result['seeds']}. "
        f"Wall time: {result['wall_seconds']:.1f} s.",
        "",
        *verdict_table(result["claims"], page_claim_cell),
        "",
        *details_block(result["claims"]),
        "",
    ]


def environment_section(env: dict) -> list[str]:
    """The versions and machine of the run, folded: they matter for reproducing it, not reading it."""
    rows = [f"| {k} | {table_cell(v)} |" for k, v in env["versions"].items()]
    return [
        "## Environment",
        "",
        ":::{dropdown} Versions and machine",
        "",
        "| item | value |",
        "|---|---|",
        *rows,
        f"| platform | {table_cell(env['platform'])} |",
        f"| CPUs | {env['cpu_count']} |",
        ":::",
        "",
    ]


def findings(
    profile: str, results: list[dict], titles: dict[str, str] | None = None
) -> str:
    """The intro's closing section, "What this book found": the primary claims' verdicts, from the runs."""
    titles = titles or {}
    lines = ["## What this book found", ""]
    if not results:
        return "\n".join(
            lines + [f"No runs of profile `{profile}` yet: see {{doc}}`results`.", ""]
        )
    claims = [c for r in results for c in r["claims"]]
    primary = [
        (r["notebook"], c)
        for r in results
        for c in r["claims"]
        if c["role"] == "primary"
    ]
    exploratory = [
        c for c in claims if c["kind"] == "comparative" and c["role"] != "primary"
    ]
    exact = [c for c in claims if c["kind"] == "exact"]
    counts = ", ".join(
        f"{sum(c['verdict'] == v for _, c in primary)} {v}" for v in OUTCOMES
    )
    lines += [
        f"Generated from this build's runs (profile `{profile}`). The chapters declared "
        f"{len(primary)} primary claims before running them: {counts}.",
        "",
    ]
    for notebook, c in primary:
        lines.append(
            f"- **{table_cell(titles.get(notebook, notebook))}.** {claim_link(c)} — **{c['verdict']}** "
            f"({format_effect(c)})."
        )
    held = sum(c["verdict"] == "reproduced" for c in exact)
    leads = ", ".join(
        f"{sum(c['verdict'] == v for c in exploratory)} {v}" for v in OUTCOMES
    )
    lines += [
        "",
        f"{held} of {len(exact)} mathematical checks held. The {len(exploratory)} exploratory "
        f"comparisons ({leads}) are leads for further runs, not findings; the {{doc}}`results` page "
        "lists every claim with its numbers and interval.",
        "",
    ]
    return "\n".join(lines)
