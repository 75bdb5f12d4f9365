"""The chapter scaffold: profile threads, device, seed and the results record; the closing report."""

import json

import pytest
import torch

from kdbook import chapter, claims


def test_start_applies_the_profile_and_report_writes_the_results(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("KD_RESULTS_DIR", str(tmp_path))
    threads = torch.get_num_threads()
    try:
        cfg, device, run = chapter.start("99_x", "smoke", seed=3)
        assert torch.get_num_threads() == cfg.threads == 1 and device == torch.device(
            "cpu"
        )
        assert run.seeds == list(cfg.seeds) and torch.initial_seed() == 3
    finally:
        torch.set_num_threads(threads)
    run.add_claim(claims.check_exact("e", "s", "src", "m", 1.0, 1.0, 0.0))
    run.add_claim(claims.check_bound("b", "s", "src", "m", 2.0, 1.0))
    glued = []
    monkeypatch.setattr(
        "myst_nb.glue", lambda key, value, display: glued.append((key, value, display))
    )
    chapter.report(run)
    # bounds not printed
    assert capsys.readouterr().out == "e: reproduced (observed 1, expected 1 ± 0)\n"
    assert glued == [("verdict-e", claims.verdict_sentence(run.claims[0]), False)]
    assert [
        c["id"] for c in json.loads((tmp_path / "99_x.json").read_text())["claims"]
    ] == ["e", "b"]
    with pytest.raises(ValueError, match="unknown profile 'laptop'"):
        chapter.start("99_x", "laptop")


def test_glue_hands_plain_python_numbers_to_the_prose(monkeypatch):
    import numpy as np

    glued = {}
    monkeypatch.setattr(
        "myst_nb.glue", lambda key, value, display: glued.setdefault(key, value)
    )
    chapter.glue(acc=np.float64(0.5), n=np.int64(3), text="ok")
    assert glued == {"acc": 0.5, "n": 3, "text": "ok"}
    assert type(glued["acc"]) is float and type(glued["n"]) is int
