"""Chapter scaffold: what every chapter does first (profile, threads, device, seed, run record) and last."""

from __future__ import annotations

import torch

from kdutils.train import pick_device, seed_everything

from .profiles import Profile, get_profile
from .results import Run


def start(
    notebook: str, profile: str, seed: int = 0
) -> tuple[Profile, torch.device, Run]:
    """The profile (its threads applied), the device it asks for, and the chapter's results record."""
    cfg = get_profile(profile)
    cfg.configure_torch()  # the profile's thread count: the same numbers alone or beside other notebooks
    device = pick_device(
        cfg.device
    )  # a clear error when the profile wants a GPU and there is none
    seed_everything(seed)
    return cfg, device, Run(notebook, profile, cfg.seeds)


def report(run: Run, skip_kinds: tuple[str, ...] = ("bound",)) -> None:
    """Correct the primary claims (Holm), write the results JSON, and print one line per claim.

    Timing bounds are skipped by default: they vary from run to run and are on the results page.
    """
    for claim in run.finish():
        if claim.kind not in skip_kinds:
            print(claim.summary())
