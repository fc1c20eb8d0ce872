"""A long file's emotion timeline: one row per window, optional median smoothing, and segments
of adjacent windows with the same label.

Windows may overlap (a `--hop_seconds` shorter than the window), so a segment cannot simply
run from its first window's start to its last window's end. Each window owns a cell around its
middle, from halfway to the previous window's middle to halfway to the next one's (the first
cell starts at 0, the last ends at the file's end); the cells tile the file, and a segment is
the union of its windows' cells. Its edges are then within half a hop of where the label
changes under the windows' middles.
"""

from __future__ import annotations

import numpy as np

SILENCE = "silence"
NO_SPEECH = "no speech"


def window_row(start_s: float, end_s: float, labels: list[str], probabilities) -> dict:
    """One window: its span, label and every class probability (None for silence)."""
    if probabilities is None:
        return {"start_s": start_s, "end_s": end_s, "emotion": SILENCE, "probability": None,
                "probabilities": None}  # fmt: skip
    best = int(np.argmax(probabilities))
    return {
        "start_s": start_s,
        "end_s": end_s,
        "emotion": labels[best],
        "probability": float(probabilities[best]),
        "probabilities": {label: float(p) for label, p in zip(labels, probabilities, strict=True)},
    }


def smoothed_labels(rows: list[dict], labels: list[str], k: int) -> list[str]:
    """Each window's label after a running median of every class probability over k windows
    (k odd; 1 leaves the labels as they are). Silence windows stay silence and bound the
    median: it runs within each stretch of speech windows."""
    result = [row["emotion"] for row in rows]
    if k <= 1:
        return result
    half = k // 2
    index = 0
    while index < len(rows):
        if rows[index]["probabilities"] is None:
            index += 1
            continue
        end = index
        while end < len(rows) and rows[end]["probabilities"] is not None:
            end += 1
        table = np.array([[rows[i]["probabilities"][x] for x in labels] for i in range(index, end)])
        for offset in range(end - index):
            lo, hi = max(offset - half, 0), min(offset + half + 1, end - index)
            result[index + offset] = labels[int(np.argmax(np.median(table[lo:hi], axis=0)))]
        index = end
    return result


def cell_edges(rows: list[dict], duration_s: float) -> list[float]:
    """len(rows) + 1 edges: 0, the midpoints between consecutive window middles, the end."""
    middles = [(row["start_s"] + row["end_s"]) / 2 for row in rows]
    inner = [(a + b) / 2 for a, b in zip(middles[:-1], middles[1:], strict=True)]
    return [0.0, *inner, duration_s]


def segments(rows: list[dict], labels_per_window: list[str], duration_s: float) -> list[dict]:
    """Runs of windows with one label: start_s, end_s, emotion, probability (the mean of that
    emotion's probability over the run's windows; None for silence), windows."""
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
        segment["probability"] = (
            None
            if segment["emotion"] == SILENCE
            else float(np.mean([rows[i]["probabilities"][segment["emotion"]] for i in members]))
        )
    return result


def whole_file_probabilities(rows: list[dict], labels: list[str]) -> np.ndarray | None:
    """Mean class probabilities over the speech windows; None when no window holds speech."""
    speech = [[row["probabilities"][x] for x in labels] for row in rows if row["probabilities"]]
    return np.mean(speech, axis=0) if speech else None
