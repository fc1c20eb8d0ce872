"""Emotion metrics (the one definition), as a local `evaluate` module that loads offline.

    metric = evaluate.load("training/reports/metrics/emotion_metrics.py")
    metric.compute(predictions=..., references=..., label_names=EMOTIONS,
                   groups={"vocal_channel": ["speech", "song", ...]})

Accuracy and unweighted average recall (UAR, the mean of per-class recalls, also called
balanced accuracy) are reported side by side because the two are often confused.
Classes absent from the references are left out of UAR and macro-F1.
"""

import datasets
import evaluate
import numpy as np

_DESCRIPTION = "Accuracy, unweighted average recall, macro-F1, per-class recall, confusion matrix."
_KWARGS_DESCRIPTION = """
Args:
    predictions: predicted class ids.
    references: true class ids.
    label_names: names of the classes, in id order (also fixes the number of classes).
    groups: optional {column name: one value per row}; for each value v of each column,
        the rows with that value are scored too (e.g. by vocal channel and by intensity).
Returns:
    accuracy, uar, macro_f1, recall_<name> per class, confusion_matrix (rows: truth), and per
    group value v: v_accuracy, v_uar, v_macro_f1, v_count.
"""
GROUP_METRICS = ("accuracy", "uar", "macro_f1")


class EmotionMetrics(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="",
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {"predictions": datasets.Value("int64"), "references": datasets.Value("int64")}
            ),
        )

    def _compute(self, predictions, references, label_names, groups=None):
        predictions = np.asarray(predictions, dtype=np.int64)
        references = np.asarray(references, dtype=np.int64)
        result = _scores(predictions, references, label_names)
        for name, values in (groups or {}).items():
            values = np.asarray(values)
            if len(values) != len(references):
                raise ValueError(
                    f"groups[{name!r}] has {len(values)} values for {len(references)} rows"
                )
            for value in sorted(set(values.tolist())):
                mask = values == value
                part = _scores(predictions[mask], references[mask], label_names)
                for metric in GROUP_METRICS:
                    result[f"{value}_{metric}"] = part[metric]
                result[f"{value}_count"] = int(mask.sum())
        return result


def _scores(predictions: np.ndarray, references: np.ndarray, label_names) -> dict:
    """Scores of one set of rows; classes absent from `references` are left out of the means."""
    num_labels = len(label_names)
    matrix = np.zeros((num_labels, num_labels), dtype=np.int64)
    np.add.at(matrix, (references, predictions), 1)
    true_counts = matrix.sum(axis=1)
    predicted_counts = matrix.sum(axis=0)
    hits = np.diag(matrix)
    present = true_counts > 0
    recall = np.divide(hits, true_counts, out=np.zeros(num_labels), where=present)
    precision = np.divide(
        hits, predicted_counts, out=np.zeros(num_labels), where=predicted_counts > 0
    )
    f1_denominator = precision + recall
    f1 = np.divide(
        2 * precision * recall,
        f1_denominator,
        out=np.zeros(num_labels),
        where=f1_denominator > 0,
    )
    result = {
        "accuracy": float(hits.sum() / max(len(references), 1)),
        "uar": float(recall[present].mean()) if present.any() else 0.0,
        "macro_f1": float(f1[present].mean()) if present.any() else 0.0,
    }
    for name, value, is_present in zip(label_names, recall, present, strict=True):
        if is_present:
            result[f"recall_{name}"] = float(value)
    result["confusion_matrix"] = matrix.tolist()
    return result
