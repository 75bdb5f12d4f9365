"""Run profiles (smoke / cpu / gpu): the one table every notebook reads its scale from."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, fields, replace
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Profile:
    """Global knobs of one profile; chapter-specific numbers go through :meth:`choose`."""

    name: str
    purpose: str
    seeds: tuple[int, ...]  # every arm of a primary claim
    exploratory_seeds: tuple[int, ...]  # the other experiments
    # torch threads per training run (None: all cores); fixed so that numbers do not depend on
    # how many notebooks run side by side: parallelism comes from processes
    threads: int | None
    per_class_limit: int | None  # cap on training images per class (None: all the data)
    device: str  # "cpu" or "cuda" (where fit runs the forward pass in bf16 autocast)
    allow_download: bool

    def choose(self, **per_profile: T) -> T:
        """Pick the value given for this profile, e.g. ``cfg.choose(smoke=1, cpu=8, gpu=30)``."""
        if self.name not in per_profile:
            raise KeyError(
                f"no value given for profile {self.name!r}; got {sorted(per_profile)}, "
                f"expected one for each of {sorted(PROFILES)}"
            )
        return per_profile[self.name]

    def configure_torch(self) -> None:
        """Give torch this profile's thread count (the same numbers whether run alone or beside
        others), and keep freed tensors' memory in the process (:mod:`kdbook.allocator`)."""
        import torch

        from kdbook.allocator import keep_freed_memory

        if self.threads is not None:
            torch.set_num_threads(self.threads)
        keep_freed_memory()


PROFILES: dict[str, Profile] = {
    "smoke": Profile(
        name="smoke",
        purpose="CI plumbing: tiny slices of the offline data, each notebook under a minute",
        seeds=(0, 1, 2),
        exploratory_seeds=(0, 1, 2),
        threads=1,
        per_class_limit=40,
        device="cpu",
        allow_download=False,
    ),
    "cpu": Profile(
        name="cpu",
        purpose="the rendered book: real offline data, 5 seeds for primary claims and 3 for "
        "exploratory ones, one thread per run, the whole book from scratch within 25 min on 2 cores",
        seeds=(0, 1, 2, 3, 4),
        exploratory_seeds=(0, 1, 2),
        threads=1,
        per_class_limit=None,
        device="cpu",
        allow_download=False,
    ),
    "gpu": Profile(
        name="gpu",
        purpose="one CUDA GPU, offline (bf16 autocast): the same data as cpu, Fashion-MNIST in "
        "full, patient students in chapters 4 and 5; the whole book in one command of at most "
        "10 min (target 8), its chapters side by side on the GPU; measured on an H200, chapter 6 "
        "in a second run (book/gpu.md); the Hugging Face guide only when the hub answers",
        seeds=(0, 1, 2, 3, 4),
        exploratory_seeds=(0, 1, 2),
        threads=None,
        per_class_limit=None,
        device="cuda",
        # the machines this profile is for have no network: the data is carried to them
        # (scripts/gpu_carry.sh); chapter 4 asks the hub itself before its guide run
        allow_download=False,
    ),
}


# JSON of Profile fields to override, e.g. '{"device": "cpu", "per_class_limit": 20}': lets a
# test run the gpu profile's code paths (its choose() values) on a CPU, in a notebook's kernel
OVERRIDES_ENV = "KD_PROFILE_OVERRIDES"


def get_profile(name: str) -> Profile:
    """Return the profile called ``name``, with ``$KD_PROFILE_OVERRIDES`` applied (its purpose says
    so); an unknown name raises a ValueError listing the known ones."""
    try:
        profile = PROFILES[name]
    except KeyError:
        raise ValueError(
            f"unknown profile {name!r}; choose one of {sorted(PROFILES)}"
        ) from None
    overrides = json.loads(os.environ.get(OVERRIDES_ENV) or "{}")
    if not overrides:
        return profile
    allowed = {f.name for f in fields(Profile)} - {"name", "purpose"}
    unknown = sorted(set(overrides) - allowed)
    if unknown:
        raise ValueError(
            f"${OVERRIDES_ENV}: unknown field(s) {unknown}; allowed: {sorted(allowed)}"
        )
    for key in ("seeds", "exploratory_seeds"):  # JSON has lists, the profile tuples
        if key in overrides:
            overrides[key] = tuple(overrides[key])
    note = ", ".join(f"{k}={v!r}" for k, v in overrides.items())
    return replace(
        profile, purpose=f"{profile.purpose} [overridden: {note}]", **overrides
    )
