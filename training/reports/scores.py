"""The metrics glue: the one metric module (`metrics/emotion_metrics.py`, an `evaluate`
module) applied to logits, for per-epoch validation and for the test report."""

from __future__ import annotations

from pathlib import Path

import evaluate
import numpy as np
from transformers import EvalPrediction

METRIC_MODULE = str(Path(__file__).with_name("metrics") / "emotion_metrics.py")


def load_metric():
    """The local emotion metric module (works offline): the one definition of every score."""
    return evaluate.load(METRIC_MODULE)


def logits_of(predictions) -> np.ndarray:
    """The logits from what the Trainer collected (a tuple when a model returns more)."""
    return np.asarray(predictions[0] if isinstance(predictions, (tuple, list)) else predictions)


def make_compute_metrics(label_names: list[str]):
    """compute_metrics for per-epoch validation: scalar metrics only (logs stay readable)."""
    metric = load_metric()

    def compute_metrics(prediction: EvalPrediction) -> dict:
        result = metric.compute(
            predictions=np.argmax(logits_of(prediction.predictions), axis=-1),
            references=prediction.label_ids,
            label_names=label_names,
        )
        result.pop("confusion_matrix")
        return result

    return compute_metrics


def detailed_metrics(logits, references, label_names, groups: dict[str, list]) -> dict:
    """Overall metrics with the confusion matrix, plus metrics per value of each group column
    (e.g. vocal channel, intensity), keyed like `speech_accuracy`, `strong_uar`."""
    return load_metric().compute(
        predictions=np.argmax(logits, axis=-1),
        references=references,
        label_names=label_names,
        groups=groups,
    )
