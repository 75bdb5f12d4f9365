"""Results: one JSON file per executed notebook (config, seeds, data source, versions, wall time, metrics, claims)."""

from __future__ import annotations

import json
import os
import platform
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from .claims import Claim

REPO_ROOT = Path(__file__).resolve().parent.parent
VERSIONED = ("torch", "torchvision", "numpy", "timm", "jupyter-book", "papermill", "scikit-learn", "matplotlib")


def results_dir(profile: str) -> Path:
    """``$KD_RESULTS_DIR`` (set by the runner) or ``build/<profile>/results`` in the repository."""
    return Path(os.environ.get("KD_RESULTS_DIR", REPO_ROOT / "build" / profile / "results"))


def environment() -> dict[str, Any]:
    """Versions and machine facts that a number depends on."""
    from . import __version__

    versions = {"python": platform.python_version(), "kdutils": __version__}
    for name in VERSIONED:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {"versions": versions, "platform": platform.platform(), "machine": platform.machine(),
            "cpu_count": os.cpu_count()}


class Run:
    """Collects one notebook's results and writes them as JSON; the clock starts at creation."""

    def __init__(self, notebook: str, profile: str, seeds: list[int] | tuple[int, ...]) -> None:
        self.notebook, self.profile, self.seeds = notebook, profile, list(seeds)
        self.started = time.perf_counter()
        self.metrics: dict[str, Any] = {}
        self.claims: list[Claim] = []
        self.config: dict[str, Any] = {}
        self.data_source: str | None = None

    def add_claim(self, claim: Claim) -> Claim:
        if any(c.id == claim.id for c in self.claims):
            raise ValueError(f"claim id {claim.id!r} is recorded twice in {self.notebook}")
        self.claims.append(claim)
        return claim

    def save(self) -> Path:
        path = results_dir(self.profile) / f"{self.notebook}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = {"notebook": self.notebook, "profile": self.profile, "seeds": self.seeds,
                   "config": self.config, "data_source": self.data_source, "metrics": self.metrics,
                   "claims": [c.as_dict() for c in self.claims], "environment": environment(),
                   "wall_seconds": time.perf_counter() - self.started}
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(payload, indent=2, default=float))
        os.replace(tmp, path)
        return path


def load_results(profile: str, directory: str | Path | None = None) -> list[dict]:
    """Every notebook's results for ``profile``, sorted by notebook name."""
    folder = Path(directory) if directory else results_dir(profile)
    return [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]
