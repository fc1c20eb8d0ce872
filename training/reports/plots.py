"""The run's pictures: the test confusion matrix and the training curves, as PNG files.

Matplotlib's Agg canvas is used directly (no pyplot, no display, no global backend switch).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from data_scripts.common.atomic_write import atomic_output

CONFUSION_MATRIX_PNG = "confusion_matrix.png"
TRAINING_CURVES_PNG = "training_curves.png"


def _save_figure(figure: Figure, path: str | Path) -> Path:
    FigureCanvasAgg(figure)
    with atomic_output(path) as temporary:
        figure.savefig(temporary, format="png", dpi=120)
    return Path(path)


def plot_confusion_matrix(
    matrix: list[list[int]], labels: list[str], path: str | Path, title: str | None = None
) -> Path:
    """Counts in each cell, shaded by row-normalised recall; rows are the true emotions."""
    counts = np.asarray(matrix, dtype=np.int64)
    if counts.ndim != 2 or counts.shape != (len(labels), len(labels)):
        raise ValueError(
            f"{path}: confusion matrix of shape {counts.shape} does not match {len(labels)} labels"
        )
    row_totals = counts.sum(axis=1, keepdims=True)
    recall = np.divide(counts, row_totals, out=np.zeros(counts.shape), where=row_totals > 0)
    size = 1.5 + 0.75 * len(labels)
    figure = Figure(figsize=(size + 1.5, size))
    axes = figure.add_subplot()
    image = axes.imshow(recall, cmap="Blues", vmin=0.0, vmax=1.0)
    figure.colorbar(image, ax=axes, label="share of the true class (recall on the diagonal)")
    for row in range(len(labels)):
        for column in range(len(labels)):
            axes.text(
                column,
                row,
                f"{counts[row, column]}",
                ha="center",
                va="center",
                color="white" if recall[row, column] > 0.5 else "black",
            )
    axes.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    axes.set_yticks(range(len(labels)), labels)
    axes.set_xlabel("predicted emotion")
    axes.set_ylabel("true emotion")
    axes.set_title(title or f"Confusion matrix ({int(counts.sum())} clips)")
    figure.tight_layout()
    return _save_figure(figure, path)


def _series(log_history: list[dict], key: str) -> tuple[list[float], list[float]]:
    """(x, y) for every log entry holding `key`; x is the epoch, else the step."""
    points = [
        (entry.get("epoch", entry.get("step", index)), entry[key])
        for index, entry in enumerate(log_history)
        if isinstance(entry.get(key), int | float)
    ]
    return [float(x) for x, _ in points], [float(y) for _, y in points]


def plot_training_curves(log_history: list[dict], path: str | Path) -> Path:
    """Training loss per logging step and validation loss, UAR and accuracy per evaluation."""
    figure = Figure(figsize=(11, 4.2))
    loss_axes, metric_axes = figure.subplots(1, 2)
    x_label = "epoch" if any("epoch" in entry for entry in log_history) else "step"
    for key, label, style in (
        ("loss", "training loss", "-"),
        ("eval_loss", "validation loss", "o-"),
    ):
        x, y = _series(log_history, key)
        if x:
            loss_axes.plot(x, y, style, label=label, markersize=4)
    for key, label in (
        ("eval_uar", "validation UAR"),
        ("eval_accuracy", "validation accuracy"),
        ("eval_ccc", "validation mean CCC"),
    ):
        x, y = _series(log_history, key)
        if x:
            metric_axes.plot(x, y, "o-", label=label, markersize=4)
    for axes, title in ((loss_axes, "Loss"), (metric_axes, "Validation metrics")):
        axes.set_title(title)
        axes.set_xlabel(x_label)
        axes.grid(alpha=0.3)
        if axes.lines:
            axes.legend()
        else:
            axes.text(
                0.5, 0.5, "nothing logged", ha="center", va="center", transform=axes.transAxes
            )
    metric_axes.set_ylim(0.0, 1.0)
    figure.tight_layout()
    return _save_figure(figure, path)
