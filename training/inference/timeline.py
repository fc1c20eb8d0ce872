"""A long file's emotion timeline: one row per window, optional median smoothing, and segments
of adjacent windows with the same label.

Windows may overlap (a `--hop_seconds` shorter than the window), so a segment cannot simply
run from its first window's start to its last window's end. Each window owns a cell around its
middle, from halfway to the previous window's middle to halfway to the next one's (the first
cell starts at 0, the last ends at the file's end); the cells tile the file, and a segment is
the union of its windows' cells. Its edges are then within half a hop of where the label
changes under the windows' middles.

A model with continuous targets (training.inference.output_scores) gives each window its
`values`; smoothing is then a moving average of them over the same stretches of speech
(`smoothed_values`), and a segment shows the mean of its windows' (smoothed) values. A
regression model's windows have no label, so its segments are the stretches of speech and of
silence.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from training.inference.output_scores import (
    VALUES,
    class_fields,
    is_speech,
    row_scores,
    value_fields,
)
from training.model.task_outputs import OutputLayout

SMOOTHED_VALUES = "smoothed_values"
SILENCE = "silence"
NO_SPEECH = "no speech"


def window_row(start_s: float, end_s: float, layout: OutputLayout, scores) -> dict:
    """One window: its span, label and every class probability, and its target values for a
    model with targets (training.inference.output_scores); `scores` None for silence."""
    return {"start_s": start_s, "end_s": end_s, **class_fields(layout, scores, SILENCE),
            **value_fields(layout, scores)}  # fmt: skip


def smoothed_labels(rows: list[dict], labels: list[str], k: int) -> list[str]:
    """Each window's label after a running median of every class probability over k windows
    (k odd; 1 leaves the labels as they are). Silence windows stay silence and bound the
    median: it runs within each stretch of speech windows."""
    result = [row["emotion"] for row in rows]
    if k <= 1 or not labels:
        return result
    half = k // 2
    for first, end in _speech_stretches(rows):
        table = np.array([[rows[i]["probabilities"][x] for x in labels] for i in range(first, end)])
        for offset in range(end - first):
            lo, hi = max(offset - half, 0), min(offset + half + 1, end - first)
            result[first + offset] = labels[int(np.argmax(np.median(table[lo:hi], axis=0)))]
    return result


def smooth_values(rows: list[dict], targets: Sequence[str], k: int) -> None:
    """Give each speech window `smoothed_values`: the moving average of every target's value
    over k windows (k odd, > 1), within each stretch of speech windows, as the labels' median
    runs (a stretch's ends average the windows there are). In place; nothing for k = 1."""
    if k <= 1 or not targets:
        return
    half = k // 2
    for first, end in _speech_stretches(rows):
        table = np.array([[rows[i][VALUES][t] for t in targets] for i in range(first, end)])
        for offset in range(end - first):
            lo, hi = max(offset - half, 0), min(offset + half + 1, end - first)
            mean = table[lo:hi].mean(axis=0)
            rows[first + offset][SMOOTHED_VALUES] = {
                t: float(v) for t, v in zip(targets, mean, strict=True)
            }


def _speech_stretches(rows: list[dict]) -> list[tuple[int, int]]:
    """(first, end) of each run of adjacent speech windows."""
    stretches, index = [], 0
    while index < len(rows):
        if not is_speech(rows[index]):
            index += 1
            continue
        end = index
        while end < len(rows) and is_speech(rows[end]):
            end += 1
        stretches.append((index, end))
        index = end
    return stretches


def cell_edges(rows: list[dict], duration_s: float) -> list[float]:
    """len(rows) + 1 edges: 0, the midpoints between consecutive window middles, the end."""
    middles = [(row["start_s"] + row["end_s"]) / 2 for row in rows]
    inner = [(a + b) / 2 for a, b in zip(middles[:-1], middles[1:], strict=True)]
    return [0.0, *inner, duration_s]


def segments(
    rows: list[dict],
    labels_per_window: list[str | None],
    duration_s: float,
    targets: Sequence[str] = (),
) -> list[dict]:
    """Runs of windows with one label: start_s, end_s, emotion, probability (the mean of that
    emotion's probability over the run's windows; None for silence and for a model without
    classes), windows; with `targets`, values: the mean of the run's windows' smoothed values
    (their values without smoothing; None for silence)."""
    edges = cell_edges(rows, duration_s)
    result: list[dict] = []
    for index, label in enumerate(labels_per_window):
        if result and result[-1]["emotion"] == label:
            result[-1]["end_s"] = edges[index + 1]
            result[-1]["_members"].append(index)
        else:
            result.append({"start_s": edges[index], "end_s": edges[index + 1], "emotion": label,
                           "_members": [index]})  # fmt: skip
    for segment in result:
        members = segment.pop("_members")
        segment["windows"] = len(members)
        silent = segment["emotion"] == SILENCE
        segment["probability"] = (
            None
            if silent or segment["emotion"] is None
            else float(np.mean([rows[i]["probabilities"][segment["emotion"]] for i in members]))
        )
        if targets:
            key = SMOOTHED_VALUES if SMOOTHED_VALUES in rows[members[0]] else VALUES
            segment[VALUES] = None if silent else {
                t: float(np.mean([rows[i][key][t] for i in members])) for t in targets
            }  # fmt: skip
    return result


def whole_file_scores(rows: list[dict], layout: OutputLayout) -> np.ndarray | None:
    """Mean score row (class probabilities, then values) over the speech windows; None when no
    window holds speech."""
    speech = [row_scores(row, layout) for row in rows if is_speech(row)]
    return np.mean(speech, axis=0) if speech else None
