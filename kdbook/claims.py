"""Claims: a sentence from a source, the measurement that tests it, and a verdict computed from the runs.

Three kinds. *Exact* claims are mathematics, checked to a tolerance; *bound* claims are engineering
targets (a speed-up, a time); *comparative* claims say a treatment beats a control (or matches it)
and are measured over seeds and test images.

A comparative claim ends in one of four verdicts, read off a confidence interval (CI) of the paired
effect, oriented so that positive is the side the claim names:

* **reproduced**: the CI excludes zero on the claimed side;
* **contradicted**: it excludes zero on the other side;
* **no effect**: the CI lies inside +-margin, the margin declared with the claim before the run;
* **inconclusive**: anything else (the run cannot tell).

A claim of *equivalence* ("T = 8 and T = 20 give the same students") is reproduced when its CI lies
inside +-margin and contradicted when it lies wholly outside it.

A claim about what distillation does is tested only where its setting holds: a teacher clearly
better than the student trained alone (:func:`headroom`: the teacher's test error at most
:data:`HEADROOM_RATIO` times the student-alone error; Hinton et al.'s MNIST teacher had 0.46 times its
student's). Where it does not, the claim is **not testable here**: its numbers are reported, and no
verdict on distillation is drawn from them.

The interval counts both sources of noise. Arms are scored per test image and per seed, a matrix
``D[s, i] = treatment - control`` over seeds ``s`` and test images ``i``. Seeds vary the training
(initialisation, batch order); the test images are one sample of the images the claim is about, the
same sample for every seed, so their noise does not average out over seeds. The standard error adds
the two variances, ``var_s(mean_i D) / S + var_i(mean_s D) / N``, with Welch-Satterthwaite degrees of
freedom and Student's t. (Both terms contain the seed x image interaction once, so the interval errs
on the wide side; ``tests/test_claims.py`` checks its coverage by simulation.) A measurement with no
test images (a correlation over validation choices, a similarity) gives one number per seed and a
seed-only t interval.

Each chapter declares at most :data:`MAX_PRIMARY` *primary* claims, with margins, before its runs;
their intervals and verdicts are corrected for multiplicity with Holm's step-down method within the
chapter (:func:`apply_holm`). Every other comparative claim is *exploratory*, at 95% uncorrected.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
from scipy import stats

# the rule lives in the library, where a reader's own check (kdutils.check_teacher) uses it too
from kdutils.headroom import HEADROOM_RATIO, has_headroom

COMPARATIVE_VERDICTS = ("reproduced", "contradicted", "no effect", "inconclusive")
NOT_TESTABLE = "not testable here"
# an exploratory claim whose planned design could not detect the effect it looks for
# (kdbook.power), and whose interval did not decide it either: reported, not judged
NOT_POWERED = "not powered here"
# exact and bound claims: the check passes or it does not
CHECK_VERDICTS = ("reproduced", "not reproduced")
VERDICTS = (*COMPARATIVE_VERDICTS, NOT_TESTABLE, NOT_POWERED, "not reproduced")
KINDS = ("exact", "bound", "comparative")
ALPHA = 0.05  # family-wise error rate of a chapter's primary claims; level of every exploratory interval
POWER = 0.80  # for the minimum detectable effect
MAX_PRIMARY = 3


@dataclass
class Claim:
    """One checked statement; ``numbers`` holds what was measured, ``verdict`` what it means."""

    id: str
    statement: str
    source: str
    measurement: str
    kind: str  # one of KINDS
    numbers: dict = field(default_factory=dict)
    verdict: str = "inconclusive"
    reason: str = ""
    # comparative claims: "primary" (declared before the run) or "exploratory"
    role: str = ""
    # seeds, test images, how the models were scored
    protocol: dict = field(default_factory=dict)
    section: str = ""  # the label of the chapter section that measured it

    def as_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        """A one-line, deterministic summary: id, verdict and the key numbers."""
        if self.kind != "comparative":
            return f"{self.id}: {self.verdict} ({check_numbers(self)})"
        return f"{self.id} [{self.role}]: {self.verdict} ({format_effect(self)})"


@dataclass(frozen=True)
class Planned:
    """A comparative claim as declared before its run: what it says, which arms it compares, its
    margin (the smallest effect that matters, e.g. 0.005 for half a point) and its role."""

    id: str
    statement: str
    source: str
    treatment: str
    control: str
    margin: float | None = None
    primary: bool = False
    measurement: str = ""
    # the effect the source reports, in the scores' units (0.0072: 0.72 points); None: none
    # that this setting can be compared with. The power plan's target (kdbook.power)
    source_effect: float | None = None

    def described(self) -> str:
        """What is measured: the declared text, or the two arms' test accuracy, paired."""
        return self.measurement or (
            f"test accuracy, {self.treatment} vs {self.control}, paired by seed and "
            "test image"
        )


def check_numbers(claim: Claim | dict) -> str:
    """``observed 1.02, expected 1 ± 0.05`` (exact) or ``observed 1.3, target ≤ 1.1`` (bound)."""
    c = claim if isinstance(claim, dict) else claim.as_dict()
    n = c["numbers"]
    if c["kind"] == "exact":
        return f"observed {n['observed']:.4g}, expected {n['expected']:.4g} ± {n['tolerance']:.2g}"
    return f"observed {n['observed']:.3g}, target {'≤' if n['at_most'] else '≥'} {n['bound']:.3g}"


def signed_format(unit: str):
    """How an effect in ``unit`` prints, with its sign."""
    # accuracy in points to two decimals; other units (a similarity, a correlation) to 3 significant digits
    return "{:+.2f}".format if unit == "points" else "{:+.3g}".format


def format_effect(claim: Claim | dict) -> str:
    """``effect +1.20 points, 95% CI [+0.40, +2.00], margin 0.50`` in the claim's own unit."""
    c = claim if isinstance(claim, dict) else claim.as_dict()
    n = c["numbers"]
    scale, unit = n["scale"], n["unit"]
    number = signed_format(unit)
    text = (
        f"effect {number(scale * n['effect'])} {unit}, {100 * n['ci_level']:.4g}% CI "
        f"[{number(scale * n['ci_low'])}, {number(scale * n['ci_high'])}]"
    )
    if n["margin"] is not None:
        text += f", margin {number(scale * n['margin']).lstrip('+')}"
    return text


# how a word of a claim id reads in a label: acronyms and names as their sources spell them
LABEL_WORDS = {
    "kd": "KD",
    "ce": "CE",
    "kl": "KL",
    "cnn": "CNN",
    "vit": "ViT",
    "deit": "DeiT",
    "mobilenet": "MobileNet",
    "hinton": "Hinton",
    "T2": "T²",
    "kdutils": "kdutils",
}


def short_label(claim: Claim | dict) -> str:
    """A claim's id as a short phrase: ``kd-beats-alone-800-800-T4`` -> ``KD beats alone 800-800 T = 4``."""
    c = claim if isinstance(claim, dict) else claim.as_dict()
    words: list[str] = []
    for part in c["id"].split("-"):
        # sizes and ranges (800-800, 2.5-4) keep their hyphen
        if words and _is_number(part) and _is_number(words[-1].rsplit("-")[-1]):
            words[-1] += f"-{part}"
            continue
        if part in LABEL_WORDS:
            word = LABEL_WORDS[part]
        elif part[:1] == "T" and part[1:].isdigit():
            word = f"T = {part[1:]}"
        elif part.endswith("pct") and _is_number(part[:-3]):
            word = f"{part[:-3]}%"
        else:
            word = part
        words.append(word)
    text = " ".join(words)
    # a sentence starts with a capital, unless it starts with a name spelt in lower case
    first = c["id"].split("-")[0]
    return text if first in LABEL_WORDS else text[0].upper() + text[1:]


def _is_number(text: str) -> bool:
    """Whether a word of an id is a number (``800``, ``2.5``)."""
    return text.replace(".", "", 1).isdigit()


def brief_numbers(claim: Claim | dict) -> str:
    """The key numbers in a table cell: ``+1.30 [+0.40, +2.20] points`` or ``1.02 (1 ± 0.05)``."""
    c = claim if isinstance(claim, dict) else claim.as_dict()
    n = c["numbers"]
    if c["kind"] == "exact":
        return (
            f"{n['observed']:.4g} (expected {n['expected']:.4g} ± {n['tolerance']:.2g})"
        )
    if c["kind"] == "bound":
        return f"{n['observed']:.3g} (target {'≤' if n['at_most'] else '≥'} {n['bound']:.3g})"
    scale, unit = n["scale"], n["unit"]
    number = signed_format(unit)
    # a no-break space keeps the interval on one line when a narrow cell wraps
    return (
        f"{number(scale * n['effect'])} [{number(scale * n['ci_low'])},\u00a0"
        f"{number(scale * n['ci_high'])}] {unit}"
    )


def verdict_sentence(claim: Claim | dict) -> str:
    """What the verdict means, in words that never call an inconclusive result a failure, or the reverse."""
    c = claim if isinstance(claim, dict) else claim.as_dict()
    verdict, n = c["verdict"], c["numbers"]
    if c["kind"] != "comparative":
        return f"{verdict}: {c['reason']}"
    if verdict == NOT_TESTABLE:
        h = n["headroom"]
        return (
            f"{verdict}: the teacher's test error ({h['teacher_error']:.1%}) is not clearly below the "
            f"student-alone error ({h['student_error']:.1%}; needed at most {HEADROOM_RATIO:g} times it), "
            f"so the run cannot test distillation ({format_effect(c)}, reported, not judged)"
        )
    if verdict == NOT_POWERED:
        p, scale = n["plan"], n["scale"]
        return (
            f"{verdict}: planned from an earlier build's noise, this design could detect "
            f"{scale * p['planned_mde']:.2f} {n['unit']}, not the {scale * p['target']:.2f} "
            f"it looks for, and its interval does not decide ({format_effect(c)}, "
            "reported, not judged)"
        )
    level = f"{100 * n['ci_level']:.4g}%"
    equivalence = n["expects"] == "equivalent"
    if verdict == "reproduced":
        why = (
            "lies inside the declared margin"
            if equivalence
            else "excludes zero on the claimed side"
        )
    elif verdict == "contradicted":
        why = (
            "lies wholly outside the declared margin"
            if equivalence
            else "excludes zero on the other side"
        )
    elif verdict == "no effect":
        why = "lies inside the declared margin: any effect is too small to matter"
    else:
        why = "is too wide to tell: the run neither shows the effect nor rules it out"
    return f"{verdict}: the {level} CI {why} ({format_effect(c)})"


def check_exact(
    id: str,
    statement: str,
    source: str,
    measurement: str,
    observed: float,
    expected: float,
    tolerance: float,
    section: str = "",
) -> Claim:
    """A mathematical claim: reproduced when ``|observed - expected| <= tolerance``."""
    if not math.isfinite(observed):
        raise ValueError(f"claim {id!r}: observed value is not finite ({observed!r})")
    if tolerance < 0:
        raise ValueError(f"claim {id!r}: tolerance must be >= 0; got {tolerance!r}")
    ok = abs(observed - expected) <= tolerance
    return Claim(
        id,
        statement,
        source,
        measurement,
        "exact",
        {
            "observed": float(observed),
            "expected": float(expected),
            "tolerance": float(tolerance),
        },
        CHECK_VERDICTS[0] if ok else CHECK_VERDICTS[1],
        f"|observed - expected| = {abs(observed - expected):.3g} {'<=' if ok else '>'} {tolerance:.3g}",
        section=section,
    )


def check_bound(
    id: str,
    statement: str,
    source: str,
    measurement: str,
    observed: float,
    bound: float,
    at_most: bool = True,
    section: str = "",
) -> Claim:
    """A target such as a speed-up: reproduced when ``observed <= bound`` (or ``>=`` with ``at_most=False``)."""
    if not math.isfinite(observed):
        raise ValueError(f"claim {id!r}: observed value is not finite ({observed!r})")
    ok = observed <= bound if at_most else observed >= bound
    relation = ("<=" if ok else ">") if at_most else (">=" if ok else "<")
    return Claim(
        id,
        statement,
        source,
        measurement,
        "bound",
        {"observed": float(observed), "bound": float(bound), "at_most": at_most},
        CHECK_VERDICTS[0] if ok else CHECK_VERDICTS[1],
        f"observed {observed:.3g} {relation} {bound:.3g}",
        section=section,
    )


def paired_effect(treatment: Sequence, control: Sequence) -> dict:
    """Mean paired difference, its standard error and degrees of freedom, counting seeds and test images.

    ``treatment`` and ``control``: one row per seed (the same seeds, in the same order), each row either
    a number or the per-test-image scores (e.g. 1 for a correct prediction) on the same test images.
    """
    t, c = np.asarray(treatment, dtype=float), np.asarray(control, dtype=float)
    if t.shape != c.shape:
        raise ValueError(
            f"treatment and control need the same seeds and test images; got shapes "
            f"{t.shape} and {c.shape}"
        )
    if t.ndim not in (1, 2):
        raise ValueError(
            f"expected one number or one row of per-image scores per seed; got shape {t.shape}"
        )
    if len(t) < 2:
        raise ValueError(f"need at least 2 seeds to measure seed noise; got {len(t)}")
    if not (np.isfinite(t).all() and np.isfinite(c).all()):
        raise ValueError("treatment and control scores must be finite")
    d = t - c
    seeds = len(d)
    if d.ndim == 1:
        v_seed, v_image, images = d.var(ddof=1) / seeds, 0.0, None
        df = seeds - 1.0
        per_seed = d
    else:
        images = d.shape[1]
        if images < 2:
            raise ValueError(f"need at least 2 test images per seed; got {images}")
        per_seed = d.mean(axis=1)
        v_seed, v_image = (
            per_seed.var(ddof=1) / seeds,
            d.mean(axis=0).var(ddof=1) / images,
        )
        denominator = v_seed**2 / (seeds - 1) + v_image**2 / (images - 1)
        df = (v_seed + v_image) ** 2 / denominator if denominator > 0 else seeds - 1.0
    return {
        **noise_components(d),
        "effect": float(d.mean()),
        "se": math.sqrt(v_seed + v_image),
        "df": float(df),
        "se_seed": math.sqrt(v_seed),
        "se_images": math.sqrt(v_image),
        "seeds": seeds,
        "images": images,
        "seed_sd": float(per_seed.std(ddof=1)),
        "treatment_per_seed": (t.mean(axis=1) if t.ndim == 2 else t).tolist(),
        "control_per_seed": (c.mean(axis=1) if c.ndim == 2 else c).tolist(),
    }


def noise_components(d: np.ndarray) -> dict:
    """Per-seed x per-image differences split into the variance of seeds, of images and of
    their interaction (two-way, one observation per cell): what a power plan needs to predict
    the noise of a design with other numbers of seeds and images."""
    if d.ndim != 2:
        return {}
    seeds, images = d.shape
    per_seed, per_image = d.mean(axis=1), d.mean(axis=0)
    residual = d - per_seed[:, None] - per_image[None, :] + d.mean()
    interaction = float((residual**2).sum() / ((seeds - 1) * (images - 1)))
    return {
        "var_seed": max(float(per_seed.var(ddof=1)) - interaction / images, 0.0),
        "var_image": max(float(per_image.var(ddof=1)) - interaction / seeds, 0.0),
        "var_interaction": interaction,
    }


def interval(effect: float, se: float, df: float, level: float) -> tuple[float, float]:
    """Two-sided Student-t interval of ``effect`` at confidence ``level``."""
    if se == 0:
        return effect, effect
    half = float(stats.t.ppf(0.5 + level / 2, df)) * se
    return effect - half, effect + half


def p_value(effect: float, se: float, df: float) -> float:
    """Two-sided p-value of "the effect is zero"."""
    if se == 0:
        return 0.0 if effect != 0 else 1.0
    return float(2 * stats.t.sf(abs(effect) / se, df))


def minimum_detectable_effect(
    se: float, df: float, alpha: float = ALPHA, power: float = POWER
) -> float:
    """The smallest true effect the test detects with probability ``power`` at two-sided level ``alpha``."""
    return float((stats.t.ppf(1 - alpha / 2, df) + stats.t.ppf(power, df)) * se)


def decide(
    ci_low: float, ci_high: float, margin: float | None, expects: str = "better"
) -> str:
    """The verdict a CI (oriented: positive = the claimed side) supports; see the module docstring."""
    if expects == "equivalent":
        if margin is None:
            raise ValueError("an equivalence claim needs a margin")
        if -margin < ci_low and ci_high < margin:
            return "reproduced"
        if ci_low >= margin or ci_high <= -margin:
            return "contradicted"
        return "inconclusive"
    if ci_low > 0:
        return "reproduced"
    if ci_high < 0:
        return "contradicted"
    if margin is not None and -margin < ci_low and ci_high < margin:
        return "no effect"
    return "inconclusive"


def set_level(claim: Claim, alpha: float) -> Claim:
    """Recompute the claim's interval, minimum detectable effect and verdict at two-sided level ``alpha``."""
    n = claim.numbers
    n["ci_level"] = 1 - alpha
    n["ci_low"], n["ci_high"] = interval(n["effect"], n["se"], n["df"], 1 - alpha)
    n["mde"] = minimum_detectable_effect(n["se"], n["df"], alpha)
    if n["headroom"] is not None and not n["headroom"]["testable"]:
        claim.verdict = NOT_TESTABLE
    else:
        claim.verdict = decide(n["ci_low"], n["ci_high"], n["margin"], n["expects"])
    unpowered = (n.get("plan") or {}).get("powered") is False
    if claim.verdict == "inconclusive" and claim.role != "primary" and unpowered:
        claim.verdict = NOT_POWERED
    claim.reason = verdict_sentence(claim)
    return claim


def headroom(
    teacher_accuracy: float,
    student_accuracy: float | Sequence[float],
    teacher_train_accuracy: float,
) -> dict:
    """The setting a distillation claim needs, measured: is the teacher clearly better than the student?

    ``teacher_accuracy``: the teacher's test accuracy; ``student_accuracy``: the test accuracy of the
    student trained alone (per seed: their mean is used); ``teacher_train_accuracy``: the teacher's
    accuracy on the student's training images (near 1, a teacher that memorised them, whose soft
    targets there say little beyond the labels).
    """
    student_accuracy = float(np.mean(student_accuracy))
    for name, value in (
        ("teacher_accuracy", teacher_accuracy),
        ("student_accuracy", student_accuracy),
        ("teacher_train_accuracy", teacher_train_accuracy),
    ):
        if not (math.isfinite(value) and 0 <= value <= 1):
            raise ValueError(f"{name} must be a fraction in [0, 1]; got {value!r}")
    teacher_error, student_error = 1 - teacher_accuracy, 1 - student_accuracy
    return {
        "teacher_error": float(teacher_error),
        "student_error": float(student_error),
        "teacher_train_accuracy": float(teacher_train_accuracy),
        "ratio": float(teacher_error / student_error)
        if student_error
        else float("inf"),
        "testable": has_headroom(teacher_accuracy, student_accuracy),
    }


def compare(
    id: str,
    statement: str,
    source: str,
    measurement: str,
    treatment: Sequence,
    control: Sequence,
    *,
    scoring: str,
    margin: float | None = None,
    expects: str = "better",
    higher_is_better: bool = True,
    scale: float = 100.0,
    unit: str = "points",
    section: str = "",
    headroom: dict | None = None,
) -> Claim:
    """A comparative claim "treatment beats control" (or ``expects="equivalent"``: "matches it").

    ``treatment``/``control``: per seed, per-test-image scores or one number (see :func:`paired_effect`).
    ``scoring``: how each model was scored (e.g. "last epoch of a 30-epoch cosine schedule").
    ``margin``: the smallest effect that matters, in the scores' units (0.005 = half a point of
    accuracy), declared before the run. ``scale``/``unit``: how effects are printed (accuracy in points).
    ``headroom``: for a claim about distillation, the teacher and student errors from :func:`headroom`;
    without headroom the claim is not testable here.
    The claim starts exploratory at 95%; :meth:`kdbook.results.Run.add_claim` makes it primary when it
    was declared so.
    """
    if expects not in ("better", "equivalent"):
        raise ValueError(
            f"claim {id!r}: expects must be 'better' or 'equivalent'; got {expects!r}"
        )
    if margin is not None and not (math.isfinite(margin) and margin > 0):
        raise ValueError(
            f"claim {id!r}: margin must be a finite number > 0 or None; got {margin!r}"
        )
    try:
        sign = 1.0 if higher_is_better else -1.0
        effect = paired_effect(
            sign * np.asarray(treatment, dtype=float),
            sign * np.asarray(control, dtype=float),
        )
    except ValueError as error:
        raise ValueError(f"claim {id!r}: {error}") from None
    numbers = {
        **effect,
        "margin": margin,
        "expects": expects,
        "higher_is_better": higher_is_better,
        "scale": scale,
        "unit": unit,
        "p_value": p_value(effect["effect"], effect["se"], effect["df"]),
        "p_holm": None,
        "headroom": headroom,
    }
    noise = (
        "seeds and test images"
        if effect["images"]
        else "seeds only (one number per seed)"
    )
    protocol = {
        "seeds": effect["seeds"],
        "test_images": effect["images"],
        "scoring": scoring,
        "interval": f"Student-t, noise from {noise}",
    }
    claim = Claim(
        id,
        statement,
        source,
        measurement,
        "comparative",
        numbers,
        role="exploratory",
        protocol=protocol,
        section=section,
    )
    return set_level(claim, ALPHA)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values, in the input's order."""
    p = np.asarray(p_values, dtype=float)
    order = np.argsort(p, kind="stable")
    adjusted, running = np.empty_like(p), 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (len(p) - rank) * p[index]))
        adjusted[index] = running
    return adjusted.tolist()


def apply_holm(primary: Sequence[Claim], alpha: float = ALPHA) -> None:
    """Correct a chapter's primary claims for multiplicity (Holm), in place.

    The claim at step k of the step-down (p-values ascending, m claims) is tested at alpha / (m - k); its
    interval is reported at that level. Once a step fails, every later claim keeps that step's level, so
    an interval never excludes zero where Holm's procedure does not reject.
    """
    # not tested, so not in the family
    primary = [c for c in primary if c.verdict != NOT_TESTABLE]
    if not primary:
        return
    adjusted = holm([c.numbers["p_value"] for c in primary])
    order = sorted(range(len(primary)), key=lambda i: primary[i].numbers["p_value"])
    stopped_at = None
    for step, index in enumerate(order):
        claim = primary[index]
        level_step = step if stopped_at is None else stopped_at
        if stopped_at is None and claim.numbers["p_value"] >= alpha / (
            len(primary) - step
        ):
            stopped_at = step
        claim.numbers["p_holm"] = adjusted[index]
        set_level(claim, alpha / (len(primary) - level_step))
