"""A model's raw outputs as the numbers its answers show, for every output layout.

A saved model's classifier emits K class logits then T target values
(training.model.task_outputs.OutputLayout). Scoring turns one row of outputs into one row of
*scores*: the class probabilities (a softmax over the class outputs only, so a multitask
model's values never leak into its probabilities) followed by the target values as they come:
the target scaling is folded into the saved head, so they are already in the user's units.
Windows are averaged and smoothed as score rows; answers show them as fields:

- `emotion`, `probability`, `probabilities` (and a file's `top`): the class part, as always;
  `emotion` is None for a regression model, which has no classes (`no speech`/`silence` still
  mark audio without speech);
- `values`: {target: value}, only for a model with targets (None without speech). A
  classification model's answers have no `values` key: they are exactly what they were.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from training.model.task_outputs import OutputLayout

VALUES = "values"


def output_scores(logits: torch.Tensor, layout: OutputLayout) -> torch.Tensor:
    """Score rows of a batch of logits: softmax over the class outputs, then the values."""
    parts = []
    if layout.has_classes:
        parts.append(torch.softmax(logits[..., layout.class_slice], dim=-1))
    if layout.has_targets:
        parts.append(logits[..., layout.target_slice])
    return torch.cat(parts, dim=-1)


def class_fields(layout: OutputLayout, scores: np.ndarray | None, silent: str) -> dict:
    """emotion, probability and probabilities of one score row; `silent` (with None numbers)
    without a row, None (and None numbers) for a model without classes."""
    if scores is None:
        return {"emotion": silent, "probability": None, "probabilities": None}
    if not layout.has_classes:
        return {"emotion": None, "probability": None, "probabilities": None}
    probabilities = scores[layout.class_slice]
    best = int(np.argmax(probabilities))
    return {
        "emotion": layout.classes[best],
        "probability": float(probabilities[best]),
        "probabilities": {
            label: float(p) for label, p in zip(layout.classes, probabilities, strict=True)
        },
    }


def value_fields(layout: OutputLayout, scores: np.ndarray | None) -> dict:
    """{"values": {target: value}} (None without a row); {} for a classification model."""
    if not layout.has_targets:
        return {}
    if scores is None:
        return {VALUES: None}
    values = scores[layout.target_slice]
    return {VALUES: {name: float(v) for name, v in zip(layout.targets, values, strict=True)}}


def row_scores(row: dict, layout: OutputLayout, values_key: str = VALUES) -> np.ndarray | None:
    """The score row behind an answer or window row (class probabilities, then the values
    under `values_key`); None for silence."""
    probabilities, values = row.get("probabilities"), row.get(values_key)
    if probabilities is None and values is None:
        return None
    parts = [probabilities[label] for label in layout.classes] if layout.has_classes else []
    parts += [values[name] for name in layout.targets] if layout.has_targets else []
    return np.asarray(parts, dtype=np.float64)


def is_speech(row: dict) -> bool:
    """True for a window or answer the model scored (it has probabilities or values)."""
    return row.get("probabilities") is not None or row.get(VALUES) is not None


def target_ranges(model_dir: str | Path, targets: list[str]) -> dict[str, list[float]]:
    """The targets' ranges in the training corpus, as the config records them ({} if not):
    for display (the page's bars) and the int8 report."""
    if not targets:
        return {}
    config = json.loads((Path(model_dir) / "config.json").read_text())
    ranges = config.get("ser_target_ranges") or {}
    return {name: [float(x) for x in ranges[name]] for name in targets if name in ranges}
