"""Results: one JSON file per executed notebook (config, seeds, data source, versions, wall time, metrics, claims)."""

from __future__ import annotations

import json
import os
import platform
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from . import power
from .claims import ALPHA, MAX_PRIMARY, Claim, Planned, apply_holm, compare, set_level

REPO_ROOT = Path(__file__).resolve().parent.parent
VERSIONED = (
    "torch",
    "torchvision",
    "numpy",
    "timm",
    "jupyter-book",
    "papermill",
    "scikit-learn",
    "matplotlib",
)


def results_dir(profile: str) -> Path:
    """``$KD_RESULTS_DIR`` (set by the runner) or ``build/<profile>/results`` in the repository."""
    return Path(
        os.environ.get("KD_RESULTS_DIR", REPO_ROOT / "build" / profile / "results")
    )


def environment() -> dict[str, Any]:
    """Versions and machine facts that a number depends on."""
    from kdutils import __version__

    versions = {"python": platform.python_version(), "kdutils": __version__}
    for name in VERSIONED:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "versions": versions,
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
    }


def _compact(value: Any) -> Any:
    """``value`` with every list of per-image 0/1 scores (``correct``, ``agrees``) as a string."""
    if isinstance(value, dict):
        return {
            k: "".join(map(str, v))
            if k in ("correct", "agrees") and isinstance(v, list)
            else _compact(v)
            for k, v in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [_compact(v) for v in value]
    return value


def _jsonable(value: Any) -> Any:
    """JSON for numpy values; per-image 0/1 scores become one compact string of digits."""
    if isinstance(value, np.ndarray):
        if value.dtype == bool or value.dtype == np.uint8:
            return "".join(map(str, value.astype(np.uint8).tolist()))
        return value.tolist()
    return float(value)


class Run:
    """Collects one notebook's results and writes them as JSON; the clock starts at creation.

    A chapter first declares its primary claims (:meth:`declare_primary`), then records claims as it
    measures them, and ends with :meth:`finish`, which corrects the primary claims for multiplicity
    and writes the JSON.
    """

    def __init__(
        self, notebook: str, profile: str, seeds: list[int] | tuple[int, ...]
    ) -> None:
        self.notebook, self.profile, self.seeds = notebook, profile, list(seeds)
        self.started = time.perf_counter()
        self.metrics: dict[str, Any] = {}
        self.claims: list[Claim] = []
        self.primary: dict[str, float | None] = {}
        self.planned: dict[str, Planned] = {}
        self.config: dict[str, Any] = {}
        self.data_source: str | None = None

    def declare_primary(self, margins: dict[str, float | None]) -> None:
        """Name the chapter's primary claims and their margins, before any run: ``{claim_id: margin}``."""
        if self.claims:
            raise RuntimeError(
                "primary claims are declared before any claim is measured"
            )
        if not 1 <= len(margins) <= MAX_PRIMARY:
            raise ValueError(
                f"a chapter declares 1 to {MAX_PRIMARY} primary claims; got {len(margins)}"
            )
        self.primary = dict(margins)

    def plan(self, planned: list[Planned]) -> None:
        """Declare the chapter's comparative claims before any run (the primary ones among them);
        each is later measured with :meth:`compare`, and :meth:`finish` refuses to drop one."""
        ids = [p.id for p in planned]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"claims planned twice in {self.notebook}: {duplicates}")
        self.declare_primary({p.id: p.margin for p in planned if p.primary})
        self.planned = {p.id: p for p in planned}

    def compare(self, id: str, treatment: Any, control: Any, **kwargs: Any) -> None:
        """Measure the planned claim ``id`` from the two arms' scores (see
        :func:`kdbook.claims.compare`, which takes ``kwargs``) and record it."""
        if id not in self.planned:
            raise KeyError(
                f"claim {id!r} was not planned in {self.notebook}; planned: "
                f"{sorted(self.planned)}"
            )
        p = self.planned[id]
        described = p.described()
        claim = compare(
            id,
            p.statement,
            p.source,
            described,
            treatment,
            control,
            margin=p.margin,
            **kwargs,
        )
        self._plan_power(claim, p)
        self.add_claim(claim)

    def _plan_power(self, claim: Claim, planned: Planned) -> None:
        """Attach the power plan to an accuracy claim: its target, and the MDE this design
        would have had with the earlier build's noise (kdbook.power)."""
        n = claim.numbers
        if n["unit"] != "points":
            return
        primary = [p for p in self.planned.values() if p.primary]
        alpha = ALPHA / len(primary) if planned.primary else ALPHA
        # an equivalence claim must fit its interval inside the margin: that is its target
        equivalence = n["expects"] == "equivalent"
        effect = n["margin"] if equivalence else planned.source_effect
        n["plan"] = power.plan(claim.id, effect, n["seeds"], n["images"], alpha)
        set_level(claim, ALPHA)  # an unpowered exploratory claim may change verdict

    def add_claim(self, claim: Claim) -> None:
        """Record ``claim`` (a primary one gets its declared margin); returns nothing, so that a
        cell ending in this call shows no object on the page."""
        if any(c.id == claim.id for c in self.claims):
            raise ValueError(
                f"claim id {claim.id!r} is recorded twice in {self.notebook}"
            )
        if claim.id in self.primary:
            if claim.kind != "comparative":
                raise ValueError(
                    f"primary claim {claim.id!r} must be comparative; got kind {claim.kind!r}"
                )
            declared = self.primary[claim.id]
            if claim.numbers["margin"] not in (None, declared):
                raise ValueError(
                    f"claim {claim.id!r}: margin {claim.numbers['margin']!r} differs from the "
                    f"{declared!r} declared before the run"
                )
            claim.numbers["margin"], claim.role = declared, "primary"
        self.claims.append(claim)

    def finish(self) -> list[Claim]:
        """Apply Holm's correction to the primary claims, write the JSON, and return every claim."""
        missing = sorted(
            (set(self.primary) | set(self.planned)) - {c.id for c in self.claims}
        )
        if missing:
            raise RuntimeError(
                f"{self.notebook}: claims declared but never measured: {missing}"
            )
        apply_holm([c for c in self.claims if c.role == "primary"])
        self.save()
        return self.claims

    def save(self) -> Path:
        path = results_dir(self.profile) / f"{self.notebook}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "notebook": self.notebook,
            "profile": self.profile,
            "seeds": self.seeds,
            "config": self.config,
            "data_source": self.data_source,
            "metrics": _compact(self.metrics),
            "claims": [c.as_dict() for c in self.claims],
            "environment": environment(),
            "wall_seconds": time.perf_counter() - self.started,
        }
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(payload, indent=2, default=_jsonable))
        os.replace(tmp, path)
        return path


def load_results(profile: str, directory: str | Path | None = None) -> list[dict]:
    """Every notebook's results for ``profile``, sorted by notebook name."""
    folder = Path(directory) if directory else results_dir(profile)
    return [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]
