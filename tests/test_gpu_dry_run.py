"""The gpu profile's code paths on a CPU: a chapter end to end with the gpu values on tiny data, and fit under bf16 autocast."""

import json
import os
import shutil
from pathlib import Path

import pytest
import torch

from kdbook import runner
from kdbook.profiles import OVERRIDES_ENV, get_profile
from kdutils.models import mlp
from kdutils.train import fit

ROOT = Path(__file__).resolve().parent.parent
# the gpu profile's choose() values, on the CPU, one thread, 20 digits per class
DRY_RUN = {"device": "cpu", "threads": 1, "per_class_limit": 20}


def test_overrides_replace_fields_and_say_so(monkeypatch):
    monkeypatch.setenv(OVERRIDES_ENV, json.dumps(DRY_RUN | {"seeds": [0, 1, 2]}))
    cfg = get_profile("gpu")
    assert (cfg.name, cfg.device, cfg.per_class_limit, cfg.seeds) == (
        "gpu",
        "cpu",
        20,
        (0, 1, 2),
    )
    assert cfg.choose(smoke=1, cpu=2, gpu=3) == 3  # still the gpu profile's values
    assert "overridden: device='cpu'" in cfg.purpose
    monkeypatch.setenv(OVERRIDES_ENV, '{"colour": "red"}')
    with pytest.raises(ValueError, match=r"unknown field\(s\) \['colour'\]"):
        get_profile("gpu")


def test_gpu_profile_is_offline():
    assert not get_profile("gpu").allow_download


def test_theory_chapter_runs_under_gpu_on_the_cpu(tmp_path, monkeypatch):
    """Chapter 1 with the gpu profile's values through the runner (papermill, a kernel), on tiny data."""
    (tmp_path / "notebooks").mkdir()
    shutil.copy2(ROOT / "_toc.yml", tmp_path)
    shutil.copy2(ROOT / "notebooks" / "01_kd_theory.ipynb", tmp_path / "notebooks")
    monkeypatch.setenv(OVERRIDES_ENV, json.dumps(DRY_RUN))
    monkeypatch.setenv("KD_CHECKPOINTS", str(tmp_path / "checkpoints"))
    # the kernel imports this checkout's kdbook and kdutils
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    )
    runner.run("gpu", only=["01_kd_theory"], force=True, root=tmp_path, quiet=True)
    results = json.loads(
        (tmp_path / "build" / "gpu" / "results" / "01_kd_theory.json").read_text()
    )
    assert results["profile"] == "gpu"
    assert results["config"]["teacher"]["arch"]["hidden"] == [1200, 1200]  # gpu's
    assert results["config"]["teacher"]["epochs"] == 30


def test_fit_trains_under_cpu_bf16_autocast(digits, monkeypatch):
    """fit's GPU path on the CPU: each step's forward pass in bf16 autocast (kdutils.train.autocast
    made to return the CPU's), the loss and the weights in float32.

    The autocast region must be per step, as fit opens it: one region around the whole of fit
    would reuse its cache of the weights' bf16 copies, and the model would never change.
    """
    from kdutils import train

    monkeypatch.setattr(
        train, "autocast", lambda device: torch.autocast("cpu", dtype=torch.bfloat16)
    )
    torch.manual_seed(0)
    model = mlp(64, [64], 10)
    seen = []
    model.register_forward_hook(lambda module, args, out: seen.append(out.dtype))
    history = fit(
        model,
        digits.train,
        digits.val,
        epochs=5,
        lr=1e-2,
        batch_size=64,
        progress=False,
    )
    assert torch.bfloat16 in seen  # training steps ran in bf16
    assert all(p.dtype == torch.float32 for p in model.parameters())
    losses = history.column("train_loss")
    assert losses[-1] < losses[0] / 2
    assert history.final_val_accuracy > 0.85
