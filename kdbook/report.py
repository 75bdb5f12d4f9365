"""Report: the book's results page, its forest plot and the intro's findings, generated from the runs' JSON."""

from __future__ import annotations

from pathlib import Path

from .claims import (
    COMPARATIVE_VERDICTS,
    HEADROOM_RATIO,
    MAX_PRIMARY,
    NOT_TESTABLE,
    check_numbers,
    format_effect,
)

OUTCOMES = (*COMPARATIVE_VERDICTS, NOT_TESTABLE)  # what a comparative claim can end in

VERDICT_COLOURS = {
    "reproduced": "#1b7837",
    "contradicted": "#c51b7d",
    "no effect": "#4575b4",
    "inconclusive": "#e08214",
    NOT_TESTABLE: "#9e9e9e",
}
GROUPS = (  # (label, test on a claim), in the order the summary lists them
    ("maths (exact)", lambda c: c["kind"] == "exact"),
    ("engineering (bounds)", lambda c: c["kind"] == "bound"),
    (
        "primary empirical",
        lambda c: c["kind"] == "comparative" and c["role"] == "primary",
    ),
    ("exploratory", lambda c: c["kind"] == "comparative" and c["role"] != "primary"),
)
FOREST_FILE = "forest.png"


def table_cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def numbers_text(claim: dict) -> str:
    """The measured numbers of a claim, for a table cell."""
    n = claim["numbers"]
    if claim["kind"] != "comparative":
        return check_numbers(claim)
    scale, unit = n["scale"], n["unit"]
    mean = lambda values: sum(values) / len(values)  # noqa: E731
    text = (
        f"{scale * mean(n['treatment_per_seed']):.2f} vs {scale * mean(n['control_per_seed']):.2f}; "
        f"{format_effect(claim)}; minimum detectable effect {scale * n['mde']:.2f} {unit}"
    )
    if n["p_holm"] is not None:
        text += f"; Holm-adjusted p = {n['p_holm']:.3g}"
    if n.get("headroom"):
        h = n["headroom"]
        text += (
            f"; headroom: teacher error {h['teacher_error']:.1%} vs student alone "
            f"{h['student_error']:.1%} (ratio {h['ratio']:.2f}, testable at <= {HEADROOM_RATIO:g}); "
            f"teacher on the student's training images {h['teacher_train_accuracy']:.1%}"
        )
    return text


def protocol_text(claim: dict) -> str:
    p = claim.get("protocol") or {}
    if not p:
        return "—"
    images = f", {p['test_images']} test images" if p.get("test_images") else ""
    return f"{p['seeds']} seeds{images}; {p['scoring']}; {p['interval']}"


def claim_link(claim: dict) -> str:
    """The claim's statement, linked to the chapter section that measured it when it names one."""
    statement = table_cell(claim["statement"])
    return (
        f"{{ref}}`{statement} <{claim['section']}>`"
        if claim.get("section")
        else statement
    )


def summary_table(claims: list[dict]) -> list[str]:
    verdicts = [*OUTCOMES, "not reproduced"]
    lines = [
        "| kind | claims | " + " | ".join(verdicts) + " |",
        "|---|---|" + "---|" * len(verdicts),
    ]
    for label, belongs in GROUPS:
        group = [c for c in claims if belongs(c)]
        lines.append(
            f"| {label} | {len(group)} | "
            + " | ".join(
                str(sum(c["verdict"] == v for c in group) or "") for v in verdicts
            )
            + " |"
        )
    return lines


def forest_plot(results: list[dict], path: Path) -> bool:
    """Every comparative claim's effect and interval, margin shaded, coloured by verdict; False if none."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [
        (r["notebook"], c)
        for r in results
        for c in r["claims"]
        if c["kind"] == "comparative"
    ]
    if not rows:
        return False
    units = list(dict.fromkeys(c["numbers"]["unit"] for _, c in rows))
    heights = [sum(c["numbers"]["unit"] == u for _, c in rows) + 1.5 for u in units]
    fig, axes = plt.subplots(
        len(units),
        1,
        figsize=(9, 0.32 * sum(heights) + 1.2),
        squeeze=False,
        gridspec_kw={"height_ratios": heights},
    )
    for ax, unit in zip(axes[:, 0], units):
        group = [(nb, c) for nb, c in rows if c["numbers"]["unit"] == unit]
        for y, (_, c) in enumerate(reversed(group)):
            n, scale = c["numbers"], c["numbers"]["scale"]
            if n["margin"] is not None:
                ax.add_patch(
                    plt.Rectangle(
                        (-scale * n["margin"], y - 0.4),
                        2 * scale * n["margin"],
                        0.8,
                        color="0.88",
                        lw=0,
                    )
                )
            colour = VERDICT_COLOURS[c["verdict"]]
            ax.plot(
                [scale * n["ci_low"], scale * n["ci_high"]], [y, y], color=colour, lw=2
            )
            ax.plot(
                scale * n["effect"],
                y,
                "D" if c["role"] == "primary" else "o",
                color=colour,
                mfc=colour if c["role"] == "primary" else "white",
                ms=6,
            )
        ax.set_yticks(
            range(len(group)),
            [f"{nb[:2]} · {c['id']}" for nb, c in reversed(group)],
            fontsize=7,
        )
        ax.axvline(0, color="k", lw=0.8)
        ax.set_ylim(-0.7, len(group) - 0.3)
        ax.set_xlabel(f"effect on the claimed side [{unit}]")
    handles = [
        plt.Line2D([], [], color=col, marker="s", ls="", label=v)
        for v, col in VERDICT_COLOURS.items()
    ]
    handles += [
        plt.Line2D(
            [], [], color="k", marker="D", ls="", label="primary (Holm-corrected CI)"
        ),
        plt.Line2D(
            [],
            [],
            color="k",
            marker="o",
            mfc="white",
            ls="",
            label="exploratory (95% CI)",
        ),
        plt.Rectangle((0, 0), 1, 1, color="0.88", label="± declared margin"),
    ]
    axes[0, 0].legend(
        handles=handles,
        fontsize=7,
        loc="lower left",
        bbox_to_anchor=(0, 1.02),
        ncol=4,
        frameon=False,
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


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
        f"{HEADROOM_RATIO:g} times the student's); elsewhere it is **{NOT_TESTABLE}**, with its numbers.",
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
        f"**{len(claims)} claims.**",
        "",
        *summary_table(claims),
        "",
    ]
    if forest:
        lines += [
            "## Every comparative claim",
            "",
            "```{figure} " + FOREST_FILE,
            ":name: forest-plot",
            ":alt: Forest plot of every comparative claim's effect and confidence interval",
            "",
            "Effect of every comparative claim on the side the claim names (positive: as claimed), "
            "with its confidence interval, coloured by verdict (dark grey: not testable here). Light grey bands: the margin declared before "
            "the run. Diamonds: primary claims (Holm-corrected intervals); circles: exploratory ones "
            "(95%).",
            "```",
            "",
        ]
    for r in results:
        lines += [
            f"## {titles.get(r['notebook'], r['notebook'])}",
            "",
            f"Chapter: {{doc}}`../notebooks/{r['notebook']}`. "
            f"Data: {table_cell(r['data_source'] or 'none')}. Seeds: {r['seeds']}. "
            f"Wall time: {r['wall_seconds']:.1f} s.",
            "",
            "| claim | kind | source | what was measured | protocol | numbers | verdict |",
            "|---|---|---|---|---|---|---|",
        ]
        for c in r["claims"]:
            kind = c["role"] or {"exact": "maths", "bound": "engineering"}[c["kind"]]
            lines.append(
                f"| {claim_link(c)} | {kind} | {table_cell(c['source'])} | {table_cell(c['measurement'])} | "
                f"{table_cell(protocol_text(c))} | {table_cell(numbers_text(c))} | **{c['verdict']}** |"
            )
        lines.append("")
    env = results[0]["environment"]
    lines += ["## Environment", "", "| item | value |", "|---|---|"]
    lines += [f"| {k} | {table_cell(v)} |" for k, v in env["versions"].items()]
    lines += [
        f"| platform | {table_cell(env['platform'])} |",
        f"| CPUs | {env['cpu_count']} |",
        "",
    ]
    return "\n".join(lines)


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
