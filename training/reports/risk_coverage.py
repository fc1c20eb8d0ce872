"""Abstention's trade-off on the test set: accuracy when only the most confident files are
answered (`ser-predict --min_confidence P` labels the rest `uncertain`).

For each target coverage the threshold is the top probability of the last file kept, and the
row counts every file at or above it (ties kept together), so `--min_confidence threshold`
keeps exactly those files."""

from __future__ import annotations

import math

import numpy as np

COVERAGES = (1.0, 0.9, 0.8, 0.7, 0.5)


def risk_coverage(top_probability, correct, coverages=COVERAGES) -> list[dict]:
    """Per target coverage: the threshold, files kept, their share and their accuracy."""
    top_probability = np.asarray(top_probability, dtype=np.float64)
    correct = np.asarray(correct, dtype=bool)
    if not len(correct):
        return []
    ranked = np.sort(top_probability)[::-1]
    rows = []
    for target in coverages:
        threshold = float(ranked[max(1, math.ceil(target * len(ranked))) - 1])
        kept = top_probability >= threshold
        rows.append(
            {
                "target_coverage": target,
                "threshold": threshold,
                "files": int(kept.sum()),
                "coverage": float(kept.mean()),
                "accuracy": float(correct[kept].mean()),
            }
        )
    return rows


def table_confidence(columns: dict[str, list[str]]) -> tuple[np.ndarray, np.ndarray]:
    """(top probability, correct) of each row of a per-file table."""
    names = [c for c in columns if c.startswith("prob_")]
    probabilities = np.array([[float(v) for v in columns[c]] for c in names]).T
    correct = np.array(
        [t == p for t, p in zip(columns["true_emotion"], columns["predicted_emotion"], strict=True)]
    )
    return probabilities.max(axis=1), correct
