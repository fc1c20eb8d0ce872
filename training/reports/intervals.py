"""Speaker-clustered bootstrap intervals for the headline metrics.

Files of one speaker are not independent evidence: most of the spread between two test sets
comes from which speakers they hold. So the bootstrap resamples speakers (clusters) with
replacement and keeps all of each drawn speaker's files; the 95 % interval is the 2.5th to
97.5th percentile of the metric over the resamples (percentile bootstrap).

Our own small numpy implementation rather than the `confidence-intervals` package: every
metric here is a function of the confusion matrix, so one matrix per speaker and one matrix
product per metric table score all resamples at once (1000 resamples of every metric in
milliseconds), the same resampled speakers serve the paired comparison of two systems
(`ser-compare`) and the power simulation, and no dependency is added. Metric definitions are
those of `metrics/emotion_metrics.py` (classes absent from a resample's references are left out
of UAR and macro-F1, as they are from the full set's), and the point value printed beside each
interval is that module's number.
"""

from __future__ import annotations

import numpy as np

CONFIDENCE = 0.95
DEFAULT_RESAMPLES = 1000
DEFAULT_SEED = 0
# Fewer test speakers than this and a speaker bootstrap has too few clusters to be more than
# a rough interval (cross-validation over every speaker is then the number to quote).
FEW_SPEAKERS = 10


def cluster_confusions(
    truth: np.ndarray, predicted: np.ndarray, clusters: np.ndarray | None, num_labels: int
) -> np.ndarray:
    """One confusion matrix (rows: truth) per cluster, shape (clusters, K, K); each file is its
    own cluster when `clusters` is None."""
    truth = np.asarray(truth, dtype=np.int64)
    predicted = np.asarray(predicted, dtype=np.int64)
    if clusters is None:
        ids = np.arange(len(truth))
    else:
        _, ids = np.unique(np.asarray(clusters).astype(str), return_inverse=True)
    matrices = np.zeros((int(ids.max()) + 1 if len(ids) else 0, num_labels, num_labels))
    np.add.at(matrices, (ids, truth, predicted), 1)
    return matrices


def resample_counts(num_clusters: int, resamples: int, seed: int) -> np.ndarray:
    """(resamples, clusters): how often each cluster is drawn in each resample (deterministic)."""
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, num_clusters, size=(resamples, num_clusters))
    counts = np.zeros((resamples, num_clusters))
    np.add.at(counts, (np.arange(resamples)[:, None], draws), 1)
    return counts


def metrics_of_confusions(matrices: np.ndarray, label_names: list[str]) -> dict[str, np.ndarray]:
    """accuracy, uar, macro_f1 and recall_<name> of each confusion matrix in a (..., K, K)
    stack; recall is NaN where the class is absent (a resample without that class)."""
    hits = np.diagonal(matrices, axis1=-2, axis2=-1)
    true_counts = matrices.sum(axis=-1)
    predicted_counts = matrices.sum(axis=-2)
    present = true_counts > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = np.where(present, hits / true_counts, np.nan)
        precision = np.where(predicted_counts > 0, hits / predicted_counts, 0.0)
        denominator = precision + np.nan_to_num(recall)
        f1 = np.where(denominator > 0, 2 * precision * np.nan_to_num(recall) / denominator, 0.0)
        classes = present.sum(axis=-1)
        result = {
            "accuracy": hits.sum(axis=-1) / np.maximum(true_counts.sum(axis=-1), 1),
            "uar": np.nansum(recall, axis=-1) / np.maximum(classes, 1),
            "macro_f1": np.where(present, f1, 0.0).sum(axis=-1) / np.maximum(classes, 1),
        }
    for index, name in enumerate(label_names):
        result[f"recall_{name}"] = recall[..., index]
    return result


def _interval(values: np.ndarray) -> tuple[float, float]:
    tail = 100 * (1 - CONFIDENCE) / 2
    kept = values[~np.isnan(values)]
    if not len(kept):
        return float("nan"), float("nan")
    low, high = np.percentile(kept, [tail, 100 - tail])
    return float(low), float(high)


def bootstrap_intervals(
    truth,
    predicted,
    clusters,
    label_names: list[str],
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> dict:
    """95 % speaker-clustered bootstrap intervals of accuracy, UAR, macro-F1 and each present
    class's recall. `clusters`: each file's speaker, or None (files resampled, said so)."""
    matrices = cluster_confusions(truth, predicted, clusters, len(label_names))
    whole = metrics_of_confusions(matrices.sum(axis=0), label_names)
    counts = resample_counts(len(matrices), resamples, seed)
    drawn = np.einsum("bs,sij->bij", counts, matrices)
    sampled = metrics_of_confusions(drawn, label_names)
    metrics = {}
    for name, value in whole.items():
        if np.isnan(value):
            continue  # a class absent from the whole set has no recall
        low, high = _interval(sampled[name])
        metrics[name] = {"value": float(value), "low": low, "high": high}
    return {
        **resampling_facts(clusters, len(matrices), len(np.asarray(truth)), resamples, seed),
        "metrics": metrics,
    }


def resampling_facts(clusters, num_clusters: int, files: int, resamples: int, seed: int) -> dict:
    """What an interval was computed from, recorded beside it."""
    unit = "file" if clusters is None else "speaker"
    facts = {
        "confidence": CONFIDENCE,
        "method": f"percentile bootstrap resampling {unit}s",
        "unit": unit,
        "speakers": None if clusters is None else num_clusters,
        "files": files,
        "resamples": resamples,
        "seed": seed,
    }
    if clusters is None:
        facts["note"] = (
            "no speaker information: files were resampled, so the interval is too narrow"
        )
    elif num_clusters < FEW_SPEAKERS:
        facts["note"] = (
            f"only {num_clusters} speaker{'s' if num_clusters != 1 else ''}: the interval is "
            "rough; cross-validation "
            "(--cv_folds) tests every speaker once and its pooled interval is the one to quote"
        )
    return facts


def speakers_of(columns: dict) -> np.ndarray | None:
    """Each row's speaker from a table's columns: RAVDESS's `actor` or a corpus's `speaker`
    (None when the table has neither, or every value is empty)."""
    for name in ("speaker", "actor"):
        values = columns.get(name)
        if values is not None and any(str(v) != "" for v in values):
            speakers = np.asarray([str(v) for v in values])
            corpora = columns.get("corpus")
            if corpora is not None:  # two corpora may both have a speaker called "01"
                speakers = np.char.add(np.asarray([f"{c}/" for c in corpora]), speakers)
            return speakers
    return None
