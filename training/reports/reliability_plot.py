"""The reliability diagram: accuracy against mean top probability per bin, before and after
the temperature (a perfectly calibrated model lies on the diagonal)."""

from __future__ import annotations

from pathlib import Path

from matplotlib.figure import Figure

from training.reports.plots import _save_figure

RELIABILITY_PNG = "reliability_diagram.png"


def plot_reliability(curves: dict[str, list[dict]], path: str | Path, title: str) -> Path:
    """`curves`: {legend: reliability_bins(...)}; one line of points per curve."""
    figure = Figure(figsize=(5.2, 5))
    axes = figure.add_subplot()
    axes.plot([0, 1], [0, 1], "--", color="grey", label="perfect calibration")
    for (label, bins), style in zip(curves.items(), ("o-", "s-", "^-"), strict=False):
        axes.plot(
            [b["confidence"] for b in bins],
            [b["accuracy"] for b in bins],
            style,
            label=label,
            markersize=4,
        )
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1)
    axes.set_xlabel("mean top probability in the bin")
    axes.set_ylabel("accuracy in the bin")
    axes.set_title(title)
    axes.grid(alpha=0.3)
    axes.legend(loc="upper left")
    figure.tight_layout()
    return _save_figure(figure, path)
