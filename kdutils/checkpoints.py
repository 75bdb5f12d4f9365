"""Checkpoints keyed by a hash of their config, written atomically, refused when the config differs."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from filelock import FileLock
from torch import nn
from torch.utils.data import Dataset, Subset

from . import __version__
from .runtime import distributed_context


class CheckpointMismatchError(RuntimeError):
    """A checkpoint was asked for with a config other than the one it was saved with."""


class UnreadableCheckpointError(RuntimeError):
    """A file in the checkpoint cache is corrupt, or is not a kdutils checkpoint."""


def config_hash(config: dict[str, Any]) -> str:
    """SHA-256 of the config as canonical JSON, with the kdutils version folded in."""
    payload = {"config": config, "kdutils": __version__}
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def save_checkpoint(
    path: str | Path,
    model: nn.Module,
    config: dict[str, Any],
    extra: dict | None = None,
) -> Path:
    """Write ``model``'s weights with its config hash; a crash mid-write leaves the old file intact."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"config_hash": config_hash(config), "config": config}
    payload |= {"state_dict": model.state_dict(), "extra": extra or {}}
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(payload, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_checkpoint(path: str | Path, model: nn.Module, config: dict[str, Any]) -> dict:
    """Load weights into ``model`` if the file was saved with ``config``; return its ``extra`` dict.
    A file torch cannot read, or not written by :func:`save_checkpoint`, raises
    :class:`UnreadableCheckpointError`; another config's, :class:`CheckpointMismatchError`."""
    try:
        payload = torch.load(Path(path), map_location="cpu", weights_only=True)
    except Exception as err:  # pickle, zip and EOF errors alike: the file is damaged
        raise UnreadableCheckpointError(
            f"checkpoint {path} cannot be read ({type(err).__name__}); it is corrupt or "
            "truncated: delete it (cached_model sets it aside and retrains)"
        ) from err
    if not isinstance(payload, dict) or not {"config_hash", "state_dict"} <= {*payload}:
        raise UnreadableCheckpointError(
            f"{path} is not a kdutils checkpoint (no config hash and state dict): it was not "
            "written by kdutils.checkpoints.save_checkpoint; load it with torch.load instead"
        )
    expected = config_hash(config)
    if payload.get("config_hash") != expected:
        raise CheckpointMismatchError(
            f"checkpoint {path} was saved for config {payload.get('config')!r} (hash "
            f"{str(payload.get('config_hash'))[:12]}), not for {config!r} (hash {expected[:12]}); "
            f"delete it or use the matching config"
        )
    model.load_state_dict(payload["state_dict"])
    return payload.get("extra", {})


def data_fingerprint(data: object) -> str:
    """SHA-256 of the images and labels in ``data``: tensors (or a list of them), a Split or
    splits (``x``, ``y``, ``train``, ``val``, ``test``), a dataset of image files (a
    :class:`~kdutils.folders.FolderDataset` or ``ImageFolder``, or a ``Subset`` of one: the
    files' names, bytes and labels), another Dataset (its items), or a file or folder (every
    file's name and bytes). One changed image or label changes it."""
    digest = hashlib.sha256()

    def add(obj: object) -> None:
        if isinstance(obj, torch.Tensor):
            obj = obj.detach().cpu().contiguous()
            digest.update(f"{tuple(obj.shape)} {obj.dtype}".encode())
            digest.update(obj.flatten().view(torch.uint8).numpy())
        elif isinstance(obj, (str, Path)):
            root = Path(obj)
            for f in sorted(root.rglob("*")) if root.is_dir() else [root]:
                digest.update(f"{f.relative_to(root)}".encode())
                digest.update(f.read_bytes() if f.is_file() else b"")
        elif isinstance(obj, Subset):
            add(torch.as_tensor(obj.indices)), add(obj.dataset)
        elif hasattr(obj, "samples") and hasattr(obj, "root"):  # image files
            for file, label in obj.samples:
                digest.update(f"{os.path.relpath(file, obj.root)} {label}".encode())
                digest.update(Path(file).read_bytes())
        elif isinstance(obj, Dataset):
            for i in range(len(obj)):
                [add(torch.as_tensor(part)) for part in obj[i][:2]]
        elif isinstance(obj, (list, tuple)):
            [add(part) for part in obj]
        elif any(hasattr(obj, k) for k in ("x", "train")):  # a Split, splits
            [add(getattr(obj, k, None)) for k in ("x", "y", "train", "val", "test")]
        elif obj is not None:
            raise TypeError(f"cannot fingerprint a {type(obj).__name__} as data")

    add(data)
    return digest.hexdigest()


def checkpoint_dir() -> Path:
    """Where shared checkpoints live: ``$KD_CHECKPOINTS`` or ``<data cache>/checkpoints``."""
    from .data import cache_dir

    return Path(os.environ.get("KD_CHECKPOINTS", cache_dir() / "checkpoints"))


def checkpoint_path(
    name: str, config: dict[str, Any], folder: str | Path | None = None
) -> Path:
    """Where :func:`cached_model` keeps ``name``'s checkpoint for ``config``: ``<folder>/<name>-<hash>.pt``."""
    return Path(folder or checkpoint_dir()) / f"{name}-{config_hash(config)[:16]}.pt"


def cached_model(
    name: str,
    config: dict[str, Any],
    build: Callable[[], nn.Module],
    train: Callable[[nn.Module], dict],
    folder: str | Path | None = None,
    data: object = None,
) -> tuple[nn.Module, dict, bool]:
    """Return ``(model, extra, loaded)``: loaded from the cache when a checkpoint of this config
    exists, otherwise built, trained by ``train(model) -> extra`` and saved. Teachers are shared
    this way.

    ``data``: what the model is trained on; its :func:`data_fingerprint` joins the config, so that a
    model is reused only for the same images and labels (after one changes, it is trained again).
    ``folder``: where the checkpoints live (default :func:`checkpoint_dir`). Processes that need the
    same model train it once: the first holds a file lock while it trains, the others wait for it
    and load the checkpoint."""
    if data is not None:
        config = {**config, "data": data_fingerprint(data)}
    path = checkpoint_path(name, config, folder)
    path.parent.mkdir(parents=True, exist_ok=True)
    model = build()
    rank, world = distributed_context()
    # under torchrun every rank trains together (a rank waiting on a lock would deadlock the others)
    with contextlib.nullcontext() if world > 1 else FileLock(path.with_suffix(".lock")):
        if path.is_file():
            try:
                return model, load_checkpoint(path, model, config), True
            except UnreadableCheckpointError as err:
                aside = path.with_name(f"{path.name}.unreadable-{int(time.time())}")
                os.replace(path, aside)
                warnings.warn(
                    f"{err}; moved it to {aside}, training again", stacklevel=2
                )
                model = build()
        extra = train(model)
        if rank == 0:
            save_checkpoint(path, model, config, extra)
    return model, extra, False
