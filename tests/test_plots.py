"""Shared plots: what they draw, and that their axes say what they show."""

import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from kdutils import plots  # noqa: E402


def test_softened_bars_draw_each_temperature_and_sum_to_one():
    fig, ax = plt.subplots()
    plots.softened_bars(ax, torch.tensor([3.0, 1.0, 0.0]), [1, 4], ["a", "b", "c"])
    heights = [[p.get_height() for p in bars] for bars in ax.containers]
    assert [sum(h) for h in heights] == pytest.approx([1.0, 1.0])
    assert heights[1][0] < heights[0][0]  # a higher temperature flattens the top class
    assert ax.get_xlabel() == "class" and ax.get_ylabel() == "probability"
    plt.close(fig)


def test_entropy_vs_temperature_rises_to_the_uniform_line():
    fig, ax = plt.subplots()
    logits = torch.tensor([[5.0, 0.0, -5.0], [2.0, 1.0, 0.0]])
    plots.entropy_vs_temperature(ax, logits, [1.0, 10.0, 1000.0])
    mean = ax.lines[0].get_ydata()
    assert np.all(np.diff(mean) > 0) and mean[-1] == pytest.approx(
        math.log(3), abs=1e-3
    )
    assert ax.lines[1].get_ydata()[0] == pytest.approx(math.log(3))  # the uniform line
    assert "nats" in ax.get_ylabel() and ax.get_xlabel() == "temperature T"
    plt.close(fig)


def test_training_curves_plot_one_line_per_run():
    history = {
        "epochs": [{"epoch": 1, "val_accuracy": 0.5}, {"epoch": 2, "val_accuracy": 0.7}]
    }
    fig, ax = plt.subplots()
    plots.training_curves({"alone": history, "distilled": history}, ax=ax)
    assert [line.get_label() for line in ax.lines] == ["alone", "distilled"]
    assert (
        list(ax.lines[0].get_ydata()) == [0.5, 0.7]
        and ax.get_ylabel() == "val accuracy"
    )
    plt.close(fig)
