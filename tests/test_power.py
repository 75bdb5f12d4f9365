"""Power plans: the MDE a design would have, predicted from an earlier build's noise."""

import numpy as np
import pytest

from kdbook import claims, power, report, results


def test_planned_mde_matches_the_claims_own_mde_on_the_same_noise():
    rng = np.random.default_rng(0)
    t = rng.integers(0, 2, size=(5, 400)).astype(float)
    c = rng.integers(0, 2, size=(5, 400)).astype(float)
    claim = claims.compare("x", "s", "src", "m", t, c, scoring="x")
    n = claim.numbers
    noise = power.noise(n)
    predicted = power.minimum_detectable_effect(
        noise["seed_var"],
        noise["image_var"],
        n["seeds"],
        n["images"],
        interaction_var=noise["interaction_var"],
    )
    assert predicted == pytest.approx(n["mde"], rel=1e-9)
    # the older records' stand-in (no interaction term) gives the same MDE for the same design
    del n["var_interaction"]
    old = power.noise(n)
    assert power.minimum_detectable_effect(
        old["seed_var"], old["image_var"], n["seeds"], n["images"]
    ) == pytest.approx(n["mde"], rel=1e-9)


def test_the_interaction_noise_shrinks_with_seeds_in_the_image_term():
    # seeds x images differences: a per-image effect, per-seed shifts, and noise in each cell
    rng = np.random.default_rng(0)
    per_image = rng.normal(0, 0.1, 500)
    d = per_image[None, :] + rng.normal(0, 0.01, (6, 1)) + rng.normal(0, 0.3, (6, 500))
    parts = claims.noise_components(d)
    assert parts["var_interaction"] == pytest.approx(0.09, rel=0.1)
    assert parts["var_image"] == pytest.approx(0.01, rel=0.3)
    assert parts["var_seed"] < 0.002  # six seeds: known only roughly


def test_more_seeds_and_images_shrink_the_planned_mde():
    small = power.minimum_detectable_effect(1e-4, 0.02, seeds=3, images=1000)
    assert power.minimum_detectable_effect(1e-4, 0.02, seeds=10, images=1000) < small
    # where the test images dominate the noise, more of them help
    images = power.minimum_detectable_effect(1e-6, 0.02, seeds=5, images=1000)
    assert power.minimum_detectable_effect(1e-6, 0.02, seeds=5, images=10000) < images
    # where the seeds do, more images alone do not: the degrees of freedom fall towards
    # seeds - 1 as the image term vanishes
    assert power.minimum_detectable_effect(1e-4, 0.02, seeds=3, images=10000) > small
    with pytest.raises(ValueError, match="at least 2 seeds; got 1"):
        power.minimum_detectable_effect(1e-4, 0.02, seeds=1, images=10)


def test_the_target_is_the_sources_effect_at_most_the_cap():
    assert power.target(0.0072) == 0.0072
    assert power.target(0.09) == power.TARGET_CAP
    assert power.target(None) == power.TARGET_CAP


def test_plan_from_a_baseline():
    baseline = {
        "gain": {"seed_var": 1e-5, "image_var": 0.02, "seeds": 5, "images": 1000}
    }
    tight = power.plan("gain", 0.01, 10, 10000, 0.05, baseline)
    assert tight["powered"] and tight["planned_mde"] < 0.01
    loose = power.plan("gain", 0.001, 3, 100, 0.05, baseline)
    assert loose["powered"] is False
    assert power.plan("new", None, 5, 100, 0.05, baseline)["planned_mde"] is None


def test_an_unpowered_exploratory_claim_that_does_not_decide_is_not_powered(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("KD_RESULTS_DIR", str(tmp_path))
    noisy = {"seed_var": 1.0, "image_var": 1.0, "seeds": 3, "images": 10}
    monkeypatch.setattr(power, "load_baseline", lambda: {"lead": noisy, "win": noisy})
    run = results.Run("99_test", "smoke", [0, 1, 2])
    run.plan(
        [
            claims.Planned("gain", "KD helps", "s", "kd", "alone", 0.005, primary=True),
            claims.Planned("lead", "views help", "s", "views", "clean"),
            claims.Planned("win", "clear win", "s", "a", "b"),
        ]
    )
    rng = np.random.default_rng(1)
    same = [rng.integers(0, 2, 200) for _ in range(3)]
    run.compare("gain", same, [1 - s for s in same], scoring="x")
    run.compare("lead", same, [np.roll(s, 1) for s in same], scoring="x")
    run.compare("win", [np.ones(200)] * 3, [np.zeros(200)] * 3, scoring="x")
    verdicts = {c.id: c.verdict for c in run.finish()}
    # a primary claim is never set aside; a decisive interval stands whatever the plan said
    assert verdicts["gain"] != claims.NOT_POWERED
    assert verdicts["lead"] == claims.NOT_POWERED
    assert verdicts["win"] == "reproduced"
    lead = next(c for c in run.claims if c.id == "lead")
    assert lead.reason.startswith("not powered here: planned from an earlier build's")
    page = report.results_page("smoke", results.load_results("smoke", tmp_path))
    assert "## Power plan" in page and "(not powered)" in page


def test_a_snapshot_takes_each_claims_latest_noise_and_keeps_claims_no_longer_run():
    numbers = {"var_seed": 1e-5, "var_image": 0.02, "var_interaction": 0.01}
    numbers |= {"seeds": 8, "images": 6000}
    results = [{"claims": [{"id": "a", "kind": "comparative", "numbers": numbers}]}]
    earlier = {
        "a": {"seed_var": 9.0, "image_var": 9.0, "seeds": 3, "images": 1000},
        "dropped": {"seed_var": 1.0, "image_var": 2.0, "seeds": 3, "images": 1000},
    }
    claims = power.snapshot(results, "a build", earlier)["claims"]
    assert claims["a"]["seeds"] == 8 and claims["a"]["image_var"] == 0.02
    assert claims["dropped"] == earlier["dropped"]
