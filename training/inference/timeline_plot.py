"""A file's timeline as a PNG: each emotion's probability over time above, each target's value
(arousal, valence, ...: a model with targets; the moving average with --smooth) as curves in
the user's units below them, the segments as a coloured band at the bottom (silence grey).
Readable from a 10 s clip to a 2-hour recording: beyond MAX_POINTS windows the curves show means
over equal groups of windows (the title says how many), and the time axis switches from
seconds to minutes to hours.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, MultipleLocator

from data_scripts.common.atomic_write import atomic_output
from training.inference.output_scores import VALUES
from training.inference.timeline import NO_SPEECH, SILENCE, SMOOTHED_VALUES

MAX_POINTS = 600
SILENCE_COLOUR = "0.8"
SPEECH_COLOUR = "0.45"  # a regression model's speech: a darker grey than silence
# matplotlib's default colours without C7, a grey that would look like silence.
EMOTION_COLOURS = ("C0", "C1", "C2", "C3", "C4", "C5", "C6", "C8", "C9", "k")
# Tick steps for long files (seconds): the first that gives at most MAX_TICKS ticks.
TICK_STEPS, MAX_TICKS = (30, 60, 300, 600, 900, 1800, 3600, 7200), 10


def _clock(seconds: float, _position=None) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def _curves(
    rows: list[dict], labels: list[str], key: str = "probabilities"
) -> tuple[np.ndarray, np.ndarray, int]:
    """(window middles, the rows' `key` numbers windows x labels with NaN for silence, group
    size)."""
    middles = np.array([(row["start_s"] + row["end_s"]) / 2 for row in rows])
    table = np.full((len(rows), len(labels)), np.nan)
    for index, row in enumerate(rows):
        if row.get(key):
            table[index] = [row[key][label] for label in labels]
    group = max(1, -(-len(rows) // MAX_POINTS))
    if group > 1:
        cut = len(rows) // group * group
        middles = middles[:cut].reshape(-1, group).mean(axis=1)
        grouped = table[:cut].reshape(-1, group, len(labels))
        speech = ~np.isnan(grouped[:, :, 0])
        sums = np.nansum(grouped, axis=1)
        counts = speech.sum(axis=1, keepdims=True)
        table = np.divide(sums, counts, out=np.full(sums.shape, np.nan), where=counts > 0)
    return middles, table, group


def _value_curves(axes, rows: list[dict], targets: list[str], smooth: int) -> int:
    """Each target's value over time (the moving average with --smooth); the group size."""
    key = SMOOTHED_VALUES if smooth > 1 else VALUES
    middles, table, group = _curves(rows, targets, key)
    marker = "." if len(middles) <= 60 else None
    for index, target in enumerate(targets):
        axes.plot(middles, table[:, index], color=EMOTION_COLOURS[index % len(EMOTION_COLOURS)],
                  lw=1.2, marker=marker, label=target)  # fmt: skip
    axes.set_ylabel("value" + (f" (mean of {smooth})" if smooth > 1 else ""))
    axes.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
    return group


def _title(result: dict, group: int) -> str:
    title = f"{Path(result['file']).name}: {result['emotion'] or ''}".rstrip()
    if result["emotion"] != NO_SPEECH:
        if result["probability"] is not None:
            title += f" {result['probability']:.2f}"
        values = result.get(VALUES) or {}
        title += "".join(f" {t} {v:.2f}" for t, v in values.items())
        title += f" (mean of {result['windows']} speech windows)"
    if group > 1:
        title += f"; curves: means over {group} windows"
    return title


def plot_timeline(result: dict, path: str | Path) -> Path:
    """Write `result`'s timeline (predict's result with its `timeline`) to `path`."""
    rows, segments = result["timeline"]["windows"], result["timeline"]["segments"]
    labels = list(next((r["probabilities"] for r in rows if r["probabilities"]), {}) or {})
    targets = list(next((r[VALUES] for r in rows if r.get(VALUES)), {}) or {})
    duration = result["duration_seconds"]
    colours = {label: EMOTION_COLOURS[i % len(EMOTION_COLOURS)] for i, label in enumerate(labels)}
    colours[SILENCE] = SILENCE_COLOUR
    colours[None] = SPEECH_COLOUR  # a regression model's segments: speech, without a label
    panels = (["probabilities"] if labels or not targets else []) + (["values"] if targets else [])
    figure = Figure(figsize=(12, 2.0 + 2.5 * len(panels)))
    single = len(panels) == 1  # a classifier's picture is laid out as it always was
    ratios = {"height_ratios": [4] * len(panels) + [1], "hspace": 0.08 if single else 0.15}
    axes = figure.subplots(len(panels) + 1, 1, sharex=True, gridspec_kw=ratios)
    band, group = axes[-1], 1
    if "probabilities" in panels:
        curves = axes[0]
        middles, table, group = _curves(rows, labels)
        for index, label in enumerate(labels):
            marker = "." if len(middles) <= 60 else None  # few windows: show each
            curves.plot(middles, table[:, index], color=colours[label], lw=1.2, marker=marker,
                        label=label)  # fmt: skip
        curves.set_ylim(0, 1)
        curves.set_ylabel("probability")
        handles = [*curves.get_legend_handles_labels()[0],
                   Patch(color=SILENCE_COLOUR, label=SILENCE)]  # fmt: skip
        curves.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8,
                      frameon=False)  # fmt: skip
    if targets:
        group = _value_curves(axes[len(panels) - 1], rows, targets, result["timeline"]["smooth"])
    axes[0].set_title(_title(result, group), fontsize=10)
    for segment in segments:
        band.broken_barh(
            [(segment["start_s"], segment["end_s"] - segment["start_s"])],
            (0, 1),
            color=colours.get(segment["emotion"], SILENCE_COLOUR),
        )
    band.set_yticks([])
    band.set_ylabel("segments" if labels else "speech", rotation=0, ha="right", va="center")
    band.set_xlim(0, duration)
    if duration > 120:
        step = next((t for t in TICK_STEPS if duration / t <= MAX_TICKS), TICK_STEPS[-1])
        band.xaxis.set_major_locator(MultipleLocator(step))
        band.xaxis.set_major_formatter(FuncFormatter(_clock))
        band.set_xlabel("time (h:mm:ss)" if duration >= 3600 else "time (m:ss)")
    else:
        band.set_xlabel("time (s)")
    figure.subplots_adjust(left=0.08, right=0.86, bottom=0.14 if single else 0.09,
                           top=0.9 if single else 0.93)  # fmt: skip
    FigureCanvasAgg(figure)
    with atomic_output(path) as temporary:
        figure.savefig(temporary, format="png", dpi=100)
    return Path(path)
