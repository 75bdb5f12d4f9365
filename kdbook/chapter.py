"""Chapter scaffold: what every chapter does first (profile, threads, device, seed, run record) and last."""

from __future__ import annotations

import numbers

import pandas as pd
import torch

from kdutils.runtime import pick_device, seed_everything

from .claims import Claim, Planned, short_label, verdict_sentence
from .profiles import Profile, get_profile
from .report import role_name, table_cell, verdict_table
from .results import Run


def start(
    notebook: str, profile: str, seed: int = 0
) -> tuple[Profile, torch.device, Run]:
    """The profile (its threads applied), the device it asks for, and the chapter's results record."""
    cfg = get_profile(profile)
    cfg.configure_torch()  # the profile's thread count: the same numbers alone or beside other notebooks
    # a clear error when the profile wants a GPU and there is none
    device = pick_device(cfg.device)
    seed_everything(seed)
    # whole cells in a page's tables: pandas cuts them at 50 characters, mid-number
    pd.set_option("display.max_colwidth", None)
    _show_run_settings(cfg, seed)
    return cfg, device, Run(notebook, profile, cfg.seeds)


def _show_run_settings(cfg: Profile, seed: int) -> None:
    """One line on the page saying which profile and seed the run used (in a notebook only)."""
    from IPython import get_ipython
    from IPython.display import Markdown, display

    if get_ipython() is not None:
        display(
            Markdown(
                f"**Run settings:** profile `{cfg.name}` ({cfg.purpose}); seed {seed}."
            )
        )


def glue(**values: object) -> None:
    """Hand the run's values to the page's prose: MyST-NB glue, read back in Markdown with
    ``{glue:text}`key``` (``{glue:text}`key:.1f``` for a number). Nothing is displayed here."""
    from myst_nb import glue as myst_glue

    for key, value in values.items():
        # numpy scalars print as "np.float64(...)", which the {glue:text} format cannot read
        if isinstance(value, numbers.Integral) and not isinstance(value, bool):
            value = int(value)
        elif isinstance(value, numbers.Real):
            value = float(value)
        myst_glue(key, value, display=False)


def report(run: Run, skip_kinds: tuple[str, ...] = ("bound",)) -> None:
    """Correct the primary claims (Holm), write the results JSON, show the verdicts as a table,
    and glue each verdict sentence as ``verdict-<claim id>`` for the chapter's prose.

    Timing bounds are not shown by default: they vary from run to run and are on the results page.
    """
    shown = [claim for claim in run.finish() if claim.kind not in skip_kinds]
    show_verdicts(shown)
    glue(**{f"verdict-{claim.id}": verdict_sentence(claim) for claim in shown})


def show_verdicts(claims: list[Claim]) -> None:
    """A table of the claims' verdicts in a notebook; one plain line per claim elsewhere."""
    from IPython import get_ipython
    from IPython.display import display

    plain = "\n".join(claim.summary() for claim in claims)
    if get_ipython() is None:
        print(plain)
        return
    # text/plain too: nbval compares it, and a reader without Markdown rendering sees it
    display({"text/markdown": verdict_markdown(claims), "text/plain": plain}, raw=True)


def verdict_markdown(claims: list[Claim]) -> str:
    """The verdict table a chapter shows after its runs, and a line on what its numbers mean."""
    table = verdict_table(
        [claim.as_dict() for claim in claims],
        lambda c: f"{table_cell(short_label(c))} *({role_name(c)})*",
    )
    meaning = []
    if any(claim.kind == "comparative" for claim in claims):
        meaning.append(
            "the effect on the claimed side and its confidence interval "
            "(95%; Holm-corrected for primary claims)"
        )
    if any(claim.kind != "comparative" for claim in claims):
        meaning.append("a check's observed value and what it should be")
    return "\n".join(table) + (
        f"\n\nNumbers: {'; '.join(meaning)}. Each claim's protocol and raw numbers: "
        "[the results page](../book/results.html)."
    )


def plan(run: Run, planned: list[Planned]) -> None:
    """Declare the chapter's comparative claims before its runs, and show them as a table."""
    run.plan(planned)
    _show_markdown(plan_table(planned))


def plan_table(planned: list[Planned]) -> str:
    """The claims a chapter declares before its runs, as a Markdown table."""
    rows = [
        "| claim | treatment vs control | margin | role |",
        "|---|---|---|---|",
    ]
    for p in planned:
        margin = f"{100 * p.margin:g} points" if p.margin else "none"
        role = "**primary**" if p.primary else "exploratory"
        rows.append(
            f"| {p.statement} <br><small>`{p.id}` · {p.source}</small> "
            f"| {p.treatment} vs {p.control} | {margin} | {role} |"
        )
    return "\n".join(rows)


def _show_markdown(text: str) -> None:
    from IPython import get_ipython
    from IPython.display import Markdown, display

    if get_ipython() is not None:
        display(Markdown(text))
