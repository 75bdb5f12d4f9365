"""Results: primary claims declared before the run, the JSON record."""

import json

import numpy as np
import pytest

from kdbook import claims, results


def test_a_chapter_declares_its_primary_claims_before_measuring(tmp_path, monkeypatch):
    monkeypatch.setenv("KD_RESULTS_DIR", str(tmp_path))
    run = results.Run("99_test", "smoke", [0, 1, 2])
    with pytest.raises(ValueError, match="1 to 3 primary claims; got 4"):
        run.declare_primary({"a": None, "b": None, "c": None, "d": None})
    run.declare_primary({"gain": 0.005, "other": 0.01})
    gain = claims.compare(
        "gain", "s", "src", "m", [0.9, 0.91, 0.92], [0.8, 0.8, 0.81], scoring="x"
    )
    assert run.add_claim(gain) is None  # a cell ending in it shows no repr
    assert gain.role == "primary" and gain.numbers["margin"] == 0.005
    with pytest.raises(RuntimeError, match=r"declared but never measured: \['other'\]"):
        run.finish()
    with pytest.raises(
        ValueError, match="margin 0.02 differs from the 0.01 declared before the run"
    ):
        run.add_claim(
            claims.compare(
                "other", "s", "src", "m", [1, 2], [0, 1], scoring="x", margin=0.02
            )
        )
    run.add_claim(
        claims.compare(
            "other", "s", "src", "m", [1.0, 2.0, 3.0], [0.0, 1.0, 2.1], scoring="x"
        )
    )
    run.add_claim(
        claims.compare(
            "extra", "s", "src", "m", [1.0, 2.0, 3.0], [0.0, 1.0, 2.1], scoring="x"
        )
    )
    finished = {c.id: c for c in run.finish()}
    assert (
        finished["extra"].role == "exploratory"
        and finished["extra"].numbers["ci_level"] == 0.95
    )
    assert (
        finished["gain"].numbers["p_holm"] is not None
        and finished["gain"].numbers["ci_level"] == 0.975
    )
    with pytest.raises(RuntimeError, match="declared before any claim is measured"):
        run.declare_primary({"late": None})


def test_a_chapter_plans_its_claims_and_measures_each(tmp_path, monkeypatch):
    monkeypatch.setenv("KD_RESULTS_DIR", str(tmp_path))
    run = results.Run("99_test", "smoke", [0, 1, 2])
    plan = [
        claims.Planned("gain", "KD helps", "src", "kd", "alone", 0.005, primary=True),
        claims.Planned("lead", "views help", "src", "views", "clean"),
    ]
    with pytest.raises(ValueError, match=r"planned twice in 99_test: \['gain'\]"):
        run.plan(plan + plan[:1])
    run.plan(plan)
    with pytest.raises(KeyError, match="'other' was not planned in 99_test"):
        run.compare("other", [1.0, 2.0], [0.0, 1.0], scoring="x")
    assert run.compare("gain", [0.9, 0.91, 0.92], [0.8, 0.8, 0.81], scoring="x") is None
    gain = run.claims[0]
    assert (gain.role, gain.numbers["margin"], gain.statement) == (
        "primary",
        0.005,
        "KD helps",
    )
    assert (
        gain.measurement == "test accuracy, kd vs alone, paired by seed and test image"
    )
    with pytest.raises(RuntimeError, match=r"declared but never measured: \['lead'\]"):
        run.finish()


def test_run_writes_json_with_environment_and_claims(tmp_path, monkeypatch):
    monkeypatch.setenv("KD_RESULTS_DIR", str(tmp_path))
    run = results.Run("99_test", "smoke", [0, 1, 2])
    run.metrics["accuracy"] = 0.5
    # per-image scores: one compact string
    run.metrics["correct"] = np.array([1, 0, 1], dtype=np.uint8)
    # as kdutils' metrics give them (lists), nested
    run.metrics["students"] = {
        "alone": [{"seed": 0, "correct": [0, 1], "agrees": [1, 1]}]
    }
    run.data_source = "packaged: test"
    run.add_claim(claims.check_exact("x", "s", "src", "m", 1.0, 1.0, 0.0))
    with pytest.raises(ValueError, match="claim id 'x' is recorded twice"):
        run.add_claim(claims.check_exact("x", "s", "src", "m", 1.0, 1.0, 0.0))
    payload = json.loads(run.save().read_text())
    assert (
        payload["claims"][0]["verdict"] == "reproduced"
        and payload["metrics"]["correct"] == "101"
    )
    assert payload["metrics"]["students"]["alone"] == [
        {"seed": 0, "correct": "01", "agrees": "11"}
    ]
    assert payload["environment"]["versions"]["torch"] and payload["wall_seconds"] > 0
    assert results.load_results("smoke")[0]["notebook"] == "99_test"
