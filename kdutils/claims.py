"""Claims: a sentence from a source, the measurement that tests it, and a verdict computed from the runs."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

VERDICTS = ("reproduced", "not reproduced", "inconclusive")


@dataclass
class Claim:
    """One checked statement; ``numbers`` holds what was measured, ``verdict`` what it means."""

    id: str
    statement: str
    source: str
    measurement: str
    kind: str  # "exact" (maths, to a tolerance), "bound" (a target such as a speed-up) or "empirical" (over seeds)
    numbers: dict = field(default_factory=dict)
    verdict: str = "inconclusive"
    reason: str = ""

    def as_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        """A one-line, deterministic summary: id, verdict and the key numbers."""
        n = self.numbers
        if self.kind == "exact":
            return f"{self.id}: {self.verdict} (observed {n['observed']:.4g}, expected {n['expected']:.4g} +- {n['tolerance']:.2g})"
        if self.kind == "bound":
            return f"{self.id}: {self.verdict} (observed {n['observed']:.3g}, target {'<=' if n['at_most'] else '>='} {n['bound']:.3g})"
        return (f"{self.id}: {self.verdict} (effect {n['effect_mean']:+.4f} +- {n['effect_std']:.4f}, "
                f"95% CI [{n['ci_low']:+.4f}, {n['ci_high']:+.4f}], n={n['n']})")


def check_exact(id: str, statement: str, source: str, measurement: str, observed: float,
                expected: float, tolerance: float) -> Claim:
    """A mathematical claim: reproduced when ``|observed - expected| <= tolerance``."""
    if not math.isfinite(observed):
        raise ValueError(f"claim {id!r}: observed value is not finite ({observed!r})")
    if tolerance < 0:
        raise ValueError(f"claim {id!r}: tolerance must be >= 0; got {tolerance!r}")
    ok = abs(observed - expected) <= tolerance
    return Claim(id, statement, source, measurement, "exact",
                 {"observed": float(observed), "expected": float(expected), "tolerance": float(tolerance)},
                 "reproduced" if ok else "not reproduced",
                 f"|observed - expected| = {abs(observed - expected):.3g} {'<=' if ok else '>'} {tolerance:.3g}")


def check_bound(id: str, statement: str, source: str, measurement: str, observed: float, bound: float,
                at_most: bool = True) -> Claim:
    """A target such as a speed-up: reproduced when ``observed <= bound`` (or ``>=`` with ``at_most=False``)."""
    if not math.isfinite(observed):
        raise ValueError(f"claim {id!r}: observed value is not finite ({observed!r})")
    ok = observed <= bound if at_most else observed >= bound
    relation = ("<=" if ok else ">") if at_most else (">=" if ok else "<")
    return Claim(id, statement, source, measurement, "bound",
                 {"observed": float(observed), "bound": float(bound), "at_most": at_most},
                 "reproduced" if ok else "not reproduced", f"observed {observed:.3g} {relation} {bound:.3g}")


def seed_statistics(values: Sequence[float]) -> dict:
    """Mean, sample std and the two-sided 95% Student-t confidence interval of the mean."""
    from scipy import stats

    v = np.asarray(values, dtype=float)
    if v.ndim != 1 or len(v) < 3:
        raise ValueError(f"need at least 3 values (one per seed) for statistics; got {len(v)}")
    mean, std = float(v.mean()), float(v.std(ddof=1))
    half = float(stats.t.ppf(0.975, df=len(v) - 1) * std / math.sqrt(len(v)))
    return {"n": len(v), "mean": mean, "std": std, "ci_low": mean - half, "ci_high": mean + half}


def compare_seeds(id: str, statement: str, source: str, measurement: str, treatment: Sequence[float],
                  control: Sequence[float], higher_is_better: bool = True) -> Claim:
    """An empirical claim "treatment beats control", from paired per-seed values.

    reproduced: the 95% CI of the paired effect lies entirely on the claimed side of zero;
    not reproduced: the mean effect is zero or on the wrong side; inconclusive: the CI straddles zero.
    """
    t, c = np.asarray(treatment, dtype=float), np.asarray(control, dtype=float)
    if t.shape != c.shape:
        raise ValueError(f"claim {id!r}: treatment and control need one value per seed each; "
                         f"got {len(t)} and {len(c)}")
    sign = 1.0 if higher_is_better else -1.0
    effect = seed_statistics(sign * (t - c))
    treat, ctrl = seed_statistics(t), seed_statistics(c)
    if effect["ci_low"] > 0:
        verdict, reason = "reproduced", "the 95% CI of the effect excludes zero on the claimed side"
    elif effect["mean"] <= 0:
        verdict, reason = "not reproduced", "the mean effect is not on the claimed side"
    else:
        verdict, reason = "inconclusive", "the effect points the claimed way but its 95% CI includes zero"
    numbers = {"n": effect["n"], "treatment_mean": treat["mean"], "treatment_std": treat["std"],
               "control_mean": ctrl["mean"], "control_std": ctrl["std"], "effect_mean": effect["mean"],
               "effect_std": effect["std"], "ci_low": effect["ci_low"], "ci_high": effect["ci_high"],
               "treatment": t.tolist(), "control": c.tolist(), "higher_is_better": higher_is_better}
    return Claim(id, statement, source, measurement, "empirical", numbers, verdict, reason)
