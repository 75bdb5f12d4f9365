"""Shared fixtures: tiny IDX data sets written on the fly, an isolated kdutils cache, and a
headless-Chromium measurement of built pages."""

import gzip
import html
import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

from kdutils import data


def write_idx(
    folder: Path, stem: str, array: np.ndarray, compress: bool = True
) -> Path:
    """Write ``array`` (uint8) as a standard IDX file ``stem`` (gzip-compressed by default)."""
    folder.mkdir(parents=True, exist_ok=True)
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(
        int(d).to_bytes(4, "big") for d in array.shape
    )
    payload = header + array.astype(np.uint8).tobytes()
    path = folder / (stem + (".gz" if compress else ""))
    path.write_bytes(gzip.compress(payload) if compress else payload)
    return path


def write_fake_mnist(
    folder: Path,
    n_train: int = 60,
    n_test: int = 20,
    compress: bool = True,
    seed: int = 0,
) -> None:
    """Four IDX files like MNIST's, with balanced labels 0..9 and a label-dependent image."""
    rng = np.random.default_rng(seed)
    for (images, labels), n in zip(data.IDX_FILES.values(), (n_train, n_test)):
        y = np.arange(n) % 10
        x = rng.integers(0, 50, size=(n, 28, 28)).astype(np.uint8)
        x[np.arange(n), y, :] = 255  # class c lights up row c: learnable
        write_idx(folder, images, x, compress)
        write_idx(folder, labels, y, compress)


@pytest.fixture
def isolated_sources(tmp_path, monkeypatch):
    """No cache, no system package: the resolver sees only what a test puts in place."""
    monkeypatch.setenv("KD_DATA", str(tmp_path / "cache"))
    monkeypatch.setattr(
        data,
        "SYSTEM_DIRS",
        {"mnist": [tmp_path / "no-system"], "fashion-mnist": [tmp_path / "no-system"]},
    )
    return tmp_path


@pytest.fixture(scope="session")
def digits():
    """scikit-learn's 8x8 digits as splits: the fastest real data."""
    return data.load_splits("digits")


def train_small(digits, seed, **kwargs):
    """A 64-32-10 MLP trained 3 epochs on ``digits``: ``(model, history)``."""
    from kdutils.models import mlp
    from kdutils.train import fit

    torch.manual_seed(seed)
    model = mlp(64, [32], 10)
    history = fit(
        model,
        digits.train,
        digits.val,
        epochs=3,
        lr=1e-2,
        batch_size=64,
        seed=seed,
        progress=False,
        **kwargs,
    )
    return model, history


CHROMIUM = next(
    filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))),
    None,
)


def measure_in_chromium(page: Path, script: str, scratch: Path, window: str) -> dict:
    """Load a copy of the built ``page`` in headless Chromium at ``window`` (``"1280,900"``)
    with ``script`` appended; return the JSON it leaves in ``<pre id="kd-measure">``."""
    harness = scratch / f"measure-{page.stem}.html"
    text = page.read_text()
    # the copy's links still resolve against the page's own folder
    text = text.replace("<head>", f'<head><base href="{page.parent.as_uri()}/">', 1)
    harness.write_text(text.replace("</body>", f"<script>{script}</script></body>", 1))
    dom = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",  # root in a container has no sandbox
            "--disable-gpu",
            f"--user-data-dir={scratch}/chromium-profile",
            f"--window-size={window}",
            "--virtual-time-budget=10000",
            "--dump-dom",
            harness.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=180,
    ).stdout
    found = re.search(r'<pre id="kd-measure"[^>]*>(.*?)</pre>', dom, re.S)
    assert found, f"the measuring script did not run: {dom[-500:]}"
    return json.loads(html.unescape(found.group(1)))
