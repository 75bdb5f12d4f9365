"""Plots shared by chapters: softened distributions and training curves, labelled and legended."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from torch import Tensor


def softened_bars(
    ax: plt.Axes,
    logits: Tensor,
    temperatures: Sequence[float],
    classes: Sequence[str],
    title: str = "",
) -> None:
    """Grouped bars of ``softmax(logits / T)`` for one example at each temperature."""
    width = 0.8 / len(temperatures)
    positions = np.arange(len(classes))
    for i, T in enumerate(temperatures):
        probs = torch.softmax(logits.float() / T, dim=-1).numpy()
        offset = (i - (len(temperatures) - 1) / 2) * width
        ax.bar(positions + offset, probs, width, label=f"T = {T:g}")
    ax.set_xticks(positions, classes)
    ax.set(xlabel="class", ylabel="probability", ylim=(0, 1), title=title)
    ax.legend(fontsize="small")


def entropy_vs_temperature(
    ax: plt.Axes, logits: Tensor, temperatures: Sequence[float], title: str = ""
) -> None:
    """Mean (and 10th-90th percentile band) entropy of ``softmax(logits / T)`` over rows, against T."""
    from .losses import entropy

    values = torch.stack([entropy(logits, float(T)) for T in temperatures]).numpy()
    low, high = np.percentile(values, [10, 90], axis=1)
    ax.plot(temperatures, values.mean(axis=1), label="mean over images")
    ax.fill_between(temperatures, low, high, alpha=0.25, label="10th-90th percentile")
    k = logits.shape[1]
    ax.axhline(np.log(k), ls="--", c="k", label=f"uniform: log {k}")
    ax.set(
        xlabel="temperature T", ylabel="entropy of softmax(z / T) [nats]", title=title
    )
    ax.legend()


def training_curves(
    histories: dict[str, dict], key: str = "val_accuracy", ax: plt.Axes | None = None
) -> plt.Axes:
    """One line per run of ``key`` against epoch, from :meth:`kdutils.train.History.as_dict` records."""
    ax = ax or plt.gca()
    for label, history in histories.items():
        rows = history["epochs"]
        ax.plot(
            [r["epoch"] for r in rows], [r[key] for r in rows], marker="o", label=label
        )
    ax.set(xlabel="epoch", ylabel=key.replace("_", " "))
    ax.legend()
    return ax
