"""Power plans: the smallest effect a design can detect, predicted from an earlier build's noise."""

from __future__ import annotations

import json
import math
from pathlib import Path

from scipy import stats

from .claims import ALPHA, POWER

# The noise of every comparative claim in an earlier cold `cpu` build, per seed and per test
# image: what the plan predicts a design's minimum detectable effect from, before its run.
BASELINE = Path(__file__).resolve().parents[1] / "book" / "power-baseline.json"
# Where a source reports a larger effect, or none we can compare, the plan asks the run to
# detect 1.5 points (issue 28): a gain a practitioner would act on.
TARGET_CAP = 0.015
NOT_POWERED = "not powered here"


def noise(numbers: dict) -> dict:
    """A claim's noise (variances) per seed, per test image and of their interaction.

    Claims record the three (kdbook.claims.noise_components); for older records, the noise of
    the per-seed and per-image means stands in, the interaction left inside both: an upper
    bound for a design with more seeds.
    """
    images = numbers["images"] or 0
    if "var_interaction" in numbers:
        seed, image = numbers["var_seed"], numbers["var_image"]
        interaction = numbers["var_interaction"]
    else:
        seed, image = numbers["seed_sd"] ** 2, numbers["se_images"] ** 2 * images
        interaction = 0.0
    return {
        "seed_var": seed,
        "image_var": image,
        "interaction_var": interaction,
        "seeds": numbers["seeds"],
        "images": images,
    }


def minimum_detectable_effect(
    seed_var: float,
    image_var: float,
    seeds: int,
    images: int,
    alpha: float = ALPHA,
    power: float = POWER,
    interaction_var: float = 0.0,
) -> float:
    """The effect a paired design of ``seeds`` x ``images`` detects with probability ``power``
    (two-sided level ``alpha``; Welch-Satterthwaite degrees of freedom, as the claims use)."""
    if seeds < 2:
        raise ValueError(f"a design needs at least 2 seeds; got {seeds}")
    if images:
        v_seed = (seed_var + interaction_var / images) / seeds
        v_image = (image_var + interaction_var / seeds) / images
    else:
        v_seed, v_image = seed_var / seeds, 0.0
    denominator = v_seed**2 / (seeds - 1) + (
        v_image**2 / (images - 1) if images > 1 else 0.0
    )
    df = (v_seed + v_image) ** 2 / denominator if denominator > 0 else seeds - 1.0
    z = stats.t.ppf(1 - alpha / 2, df) + stats.t.ppf(power, df)
    return float(z * math.sqrt(v_seed + v_image))


def target(source_effect: float | None) -> float:
    """The effect a run must be able to detect: the source's, at most :data:`TARGET_CAP`."""
    if source_effect is None:
        return TARGET_CAP
    return min(abs(source_effect), TARGET_CAP)


def load_baseline(path: Path = BASELINE) -> dict:
    """The earlier build's noise per claim id (empty when there is no baseline file)."""
    if not path.is_file():
        return {}
    return json.loads(path.read_text())["claims"]


def baseline_build(path: Path = BASELINE) -> str:
    """Which build the baseline's noise comes from."""
    return json.loads(path.read_text())["build"] if path.is_file() else "none"


def plan(
    claim_id: str,
    source_effect: float | None,
    seeds: int,
    images: int | None,
    alpha: float,
    baseline: dict | None = None,
) -> dict:
    """The plan for one claim: its target, and the MDE the design would have with the earlier
    build's noise (``planned_mde`` None where the claim has no earlier noise estimate)."""
    baseline = load_baseline() if baseline is None else baseline
    goal = target(source_effect)
    earlier = baseline.get(claim_id)
    if earlier is None:
        return {"target": goal, "planned_mde": None, "powered": None}
    mde = minimum_detectable_effect(
        earlier["seed_var"],
        earlier["image_var"],
        seeds,
        images or 0,
        alpha,
        interaction_var=earlier.get("interaction_var", 0.0),
    )
    return {"target": goal, "planned_mde": mde, "powered": mde <= goal}


def snapshot(results: list[dict], build: str, earlier: dict | None = None) -> dict:
    """The baseline file's content: every comparative claim's noise in ``results``; claims they
    lack keep their entry in ``earlier`` (a baseline's claims), so that a plan can still say why
    a claim the book no longer runs could not be powered."""
    claims = {
        c["id"]: noise(c["numbers"])
        for r in results
        for c in r["claims"]
        if c["kind"] == "comparative"
    }
    kept = {k: v for k, v in (earlier or {}).items() if k not in claims}
    return {"build": build, "claims": claims | kept}
