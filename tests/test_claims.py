"""Claims: paired effects over seeds and test images, the four verdicts, Holm, coverage."""

import math

import numpy as np
import pytest

from kdbook import claims


def test_paired_effect_by_hand_counts_seeds_and_test_images():
    # D[s, i] = treatment - control: seed means (0.5, 0, 0.5), image means (1/3, 1/3)
    treatment = [[1, 1], [1, 0], [1, 1]]
    control = [[0, 1], [1, 0], [1, 0]]
    e = claims.paired_effect(treatment, control)
    v_seed, v_image = np.var([0.5, 0.0, 0.5], ddof=1) / 3, 0.0
    assert e["effect"] == pytest.approx(1 / 3)
    assert (
        e["se"] == pytest.approx(math.sqrt(v_seed + v_image))
        and e["seeds"] == 3
        and e["images"] == 2
    )
    assert e["treatment_per_seed"] == [1.0, 0.5, 1.0] and e["control_per_seed"] == [
        0.5,
        0.5,
        0.5,
    ]


def test_paired_effect_with_one_number_per_seed_is_a_paired_t_interval():
    e = claims.paired_effect([1.0, 2.0, 3.0], [0.0, 0.0, 0.0])
    assert (
        e["effect"] == 2.0
        and e["se"] == pytest.approx(1 / math.sqrt(3))
        and e["df"] == 2
    )
    low, high = claims.interval(e["effect"], e["se"], e["df"], 0.95)
    half = 4.302652729911275 / math.sqrt(3)  # t(0.975, df=2) * sd / sqrt(n)
    assert (low, high) == (pytest.approx(2 - half), pytest.approx(2 + half))


def test_paired_effect_refuses_unpaired_or_too_little_data():
    with pytest.raises(
        ValueError, match=r"same seeds and test images; got shapes \(3,\) and \(4,\)"
    ):
        claims.paired_effect([1, 2, 3], [1, 2, 3, 4])
    with pytest.raises(ValueError, match="at least 2 seeds"):
        claims.paired_effect([[1, 0]], [[0, 0]])
    with pytest.raises(ValueError, match="must be finite"):
        claims.paired_effect([1.0, float("nan")], [0.0, 0.0])


def scores(rng, seeds, images, p_correct):
    """Per-seed rows of 0/1 scores with the given accuracy."""
    return (rng.random((seeds, images)) < p_correct).astype(np.uint8)


@pytest.mark.parametrize(
    "effect, margin, verdict",
    [
        (+0.10, 0.02, "reproduced"),  # a large gain: the CI excludes zero above it
        (-0.10, 0.02, "contradicted"),  # a large loss: the CI excludes zero below it
        (
            0.00,
            0.05,
            "no effect",
        ),  # identical arms, a margin wide enough: the CI lies inside it
        (
            0.00,
            None,
            "inconclusive",
        ),  # identical arms but no margin declared: nothing can be concluded
        (
            +0.01,
            0.002,
            "inconclusive",
        ),  # a small gain the noise cannot separate from zero, nor the margin
    ],
)
def test_each_of_the_four_verdicts_is_reached(effect, margin, verdict):
    rng = np.random.default_rng(0)
    control = scores(rng, 5, 2000, 0.8)
    if effect == 0:
        # the same models, seeds relabelled: no systematic difference
        treatment = control[[1, 2, 3, 4, 0]]
    else:
        treatment = scores(rng, 5, 2000, 0.8 + effect)
    claim = claims.compare(
        "c", "s", "src", "m", treatment, control, scoring="last epoch", margin=margin
    )
    assert claim.verdict == verdict, claims.format_effect(claim)
    assert (
        claim.kind == "comparative"
        and claim.role == "exploratory"
        and claim.numbers["ci_level"] == 0.95
    )
    assert claim.protocol == {
        "seeds": 5,
        "test_images": 2000,
        "scoring": "last epoch",
        "interval": "Student-t, noise from seeds and test images",
    }
    assert claim.reason.startswith(verdict)


def test_lower_is_better_flips_the_claimed_side():
    claim = claims.compare(
        "c",
        "s",
        "src",
        "m",
        [10.0, 11.0, 12.0],
        [20.0, 21.0, 22.5],
        scoring="errors",
        higher_is_better=False,
        scale=1.0,
        unit="errors",
    )
    assert claim.verdict == "reproduced" and claim.numbers["effect"] == pytest.approx(
        10.1666, abs=1e-3
    )
    assert "effect +10.2 errors" in claims.format_effect(claim)
    similar = claims.compare(
        "c",
        "s",
        "src",
        "m",
        [0.991, 0.992, 0.993],
        [0.99, 0.99, 0.992],
        scoring="x",
        scale=1.0,
        unit="cosine",
    )
    assert claims.format_effect(similar).startswith("effect +0.00133 cosine, 95% CI [")


def test_equivalence_claims():
    same = claims.compare(
        "c",
        "s",
        "src",
        "m",
        [0.80, 0.81, 0.80, 0.79],
        [0.80, 0.80, 0.81, 0.80],
        scoring="x",
        margin=0.05,
        expects="equivalent",
    )
    apart = claims.compare(
        "c",
        "s",
        "src",
        "m",
        [0.90, 0.91, 0.90, 0.92],
        [0.80, 0.80, 0.81, 0.80],
        scoring="x",
        margin=0.05,
        expects="equivalent",
    )
    wide = claims.compare(
        "c",
        "s",
        "src",
        "m",
        [0.90, 0.70, 0.80, 0.92],
        [0.80, 0.80, 0.81, 0.80],
        scoring="x",
        margin=0.05,
        expects="equivalent",
    )
    assert (same.verdict, apart.verdict, wide.verdict) == (
        "reproduced",
        "contradicted",
        "inconclusive",
    )
    with pytest.raises(ValueError, match="an equivalence claim needs a margin"):
        claims.compare(
            "c", "s", "src", "m", [1, 2], [1, 2], scoring="x", expects="equivalent"
        )


def test_bad_margin_and_expectation_are_named():
    with pytest.raises(
        ValueError, match="margin must be a finite number > 0 or None; got -0.1"
    ):
        claims.compare("c", "s", "src", "m", [1, 2], [1, 2], scoring="x", margin=-0.1)
    with pytest.raises(
        ValueError, match="expects must be 'better' or 'equivalent'; got 'worse'"
    ):
        claims.compare(
            "c", "s", "src", "m", [1, 2], [1, 2], scoring="x", expects="worse"
        )


def test_holm_adjusted_p_values_on_a_known_case():
    # sorted: 0.005 * 4 = 0.02, 0.01 * 3 = 0.03, 0.03 * 2 = 0.06, 0.04 * 1 = 0.04 -> raised to 0.06
    assert claims.holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx(
        [0.03, 0.06, 0.06, 0.02]
    )
    assert claims.holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])


def test_holm_intervals_agree_with_the_step_down_decisions():
    from scipy import stats

    def claim_with_p(
        p,
    ):  # a claim whose effect is its two-sided normal quantile at p, in standard errors
        c = claims.compare("c", "s", "src", "m", [0.0, 1.0], [0.0, 0.0], scoring="x")
        c.numbers.update(effect=float(stats.norm.isf(p / 2)), se=1.0, df=1e9, p_value=p)
        return c

    # m = 2: 0.001 < 0.025 is rejected; 0.04 < 0.05 but Holm stops nothing there, it is rejected too
    first, second = claim_with_p(0.001), claim_with_p(0.04)
    claims.apply_holm([second, first])
    assert first.verdict == second.verdict == "reproduced"
    assert first.numbers["ci_level"] == pytest.approx(0.975) and second.numbers[
        "ci_level"
    ] == pytest.approx(0.95)
    # 0.03 >= 0.025 fails the first step, so 0.04 is not rejected either, and its interval says so
    first, second = claim_with_p(0.03), claim_with_p(0.04)
    claims.apply_holm([first, second])
    assert first.verdict == second.verdict == "inconclusive"
    assert (
        second.numbers["ci_level"] == pytest.approx(0.975)
        and second.numbers["ci_low"] < 0
    )
    assert first.numbers["p_holm"] == pytest.approx(0.06) and second.numbers[
        "p_holm"
    ] == pytest.approx(0.06)


def test_minimum_detectable_effect():
    # a normal test at 5%, 80% power: (1.95996 + 0.84162) standard errors
    assert claims.minimum_detectable_effect(1.0, 1e9) == pytest.approx(2.8016, abs=1e-3)
    claim = claims.compare(
        "c", "s", "src", "m", [0.81, 0.83, 0.80, 0.82, 0.84], [0.80] * 5, scoring="x"
    )
    assert claim.numbers["mde"] == pytest.approx(
        claims.minimum_detectable_effect(claim.numbers["se"], claim.numbers["df"])
    )


def test_the_interval_covers_a_known_effect_at_its_nominal_rate():
    """200 simulated experiments (5 seeds x 1000 test images drawn afresh) with a known true effect."""
    from numpy.polynomial.hermite_e import hermegauss

    rng = np.random.default_rng(12345)
    seeds, images, seed_sd, boost = 5, 1000, 0.3, 0.15

    def population_accuracy(
        shift,
    ):  # E[sigmoid(2 + u + e + shift)], u ~ N(0, 1) image, e ~ N(0, seed_sd^2) seed
        x, w = hermegauss(80)
        z = math.sqrt(1 + seed_sd**2) * x
        return float(np.sum(w / np.sqrt(2 * np.pi) / (1 + np.exp(-(2 + z + shift)))))

    truth = population_accuracy(boost) - population_accuracy(0.0)
    covered = 0
    for _ in range(200):
        difficulty = rng.normal(size=images)  # this test set's images

        def arm(shift, difficulty=difficulty):
            logit = (
                2
                + difficulty[None, :]
                + rng.normal(0, seed_sd, size=(seeds, 1))
                + shift
            )
            return (rng.random((seeds, images)) < 1 / (1 + np.exp(-logit))).astype(
                np.uint8
            )

        claim = claims.compare(
            "c", "s", "src", "m", arm(boost), arm(0.0), scoring="simulated"
        )
        covered += claim.numbers["ci_low"] <= truth <= claim.numbers["ci_high"]
    assert covered / 200 >= 0.90, f"coverage {covered / 200:.3f} at nominal 0.95"


def test_check_exact():
    assert (
        claims.check_exact("a", "s", "src", "m", 10.0000001, 10.0, 1e-6).verdict
        == "reproduced"
    )
    assert (
        claims.check_exact("a", "s", "src", "m", 10.1, 10.0, 1e-6).verdict
        == "not reproduced"
    )
    with pytest.raises(ValueError, match="observed value is not finite"):
        claims.check_exact("a", "s", "src", "m", float("nan"), 0.0, 1.0)


def test_check_bound_both_directions():
    assert (
        claims.check_bound("s", "fast", "src", "ratio", 1.05, 1.1).verdict
        == "reproduced"
    )
    assert (
        claims.check_bound("s", "fast", "src", "ratio", 1.2, 1.1).verdict
        == "not reproduced"
    )
    claim = claims.check_bound("s", "speed-up", "src", "ratio", 4.0, 5.0, at_most=False)
    assert claim.verdict == "not reproduced" and claim.reason == "observed 4 < 5"
    assert "target ≥ 5" in claim.summary()


def test_headroom_measures_whether_a_teacher_is_clearly_better():
    # the paper's MNIST teacher and student
    hinton = claims.headroom(1 - 0.0067, [1 - 0.0146], 1.0)
    assert hinton["testable"] and hinton["ratio"] == pytest.approx(0.0067 / 0.0146)
    # a teacher no better than the student alone
    ours = claims.headroom(0.942, [0.943, 0.944], 1.0)
    assert not ours["testable"] and ours["student_error"] == pytest.approx(0.0565)
    with pytest.raises(
        ValueError, match="teacher_accuracy must be a fraction in \\[0, 1\\]; got 94.2"
    ):
        claims.headroom(94.2, [0.9], 1.0)


def test_a_claim_without_headroom_is_not_testable_and_leaves_holm_alone():
    rng = np.random.default_rng(1)
    control = scores(rng, 5, 2000, 0.8)
    treatment = scores(rng, 5, 2000, 0.9)
    no_room = claims.headroom(0.81, [0.8] * 5, 0.99)
    untested = claims.compare(
        "u", "s", "src", "m", treatment, control, scoring="x", headroom=no_room
    )
    assert untested.verdict == claims.NOT_TESTABLE
    assert untested.reason.startswith(
        "not testable here: the teacher's test error (19.0%)"
    )
    # reported, not judged
    assert untested.numbers["effect"] == pytest.approx(0.1, abs=0.02)
    room = claims.headroom(0.95, [0.8] * 5, 0.99)
    tested = claims.compare(
        "t", "s", "src", "m", treatment, control, scoring="x", headroom=room
    )
    assert tested.verdict == "reproduced" and tested.numbers["headroom"]["testable"]
    claims.apply_holm([untested, tested])  # a family of one: the tested claim keeps 95%
    assert tested.numbers["ci_level"] == 0.95 and untested.numbers["p_holm"] is None
