"""Scores of continuous targets: concordance correlation (CCC), Pearson r and mean absolute error
per target, and their speaker-clustered bootstrap intervals.

CCC = 2 cov(p, y) / (var p + var y + (mean p - mean y)^2), with population (1/n) moments (Lin,
1989; the MSP-Podcast challenge's metric): 1 only when predictions equal the truth, so it
penalises a shifted or shrunk scale that Pearson r forgives. MAE is in the target's own units.

The intervals resample speakers as training.reports.intervals does for accuracy: each resample
draws speakers with replacement, a drawn speaker's files count as often as the speaker was
drawn, and every metric is the weighted one over the files (all resamples at once, as weights).
"""

from __future__ import annotations

import numpy as np

from training.reports.intervals import _interval, resample_counts, resampling_facts

METRICS = ("ccc", "pearson", "mae")


def _weighted(predicted: np.ndarray, truth: np.ndarray, weights: np.ndarray) -> dict:
    """Each metric for every row of `weights` (resamples, files): weighted files."""
    total = weights.sum(axis=-1)
    mean_p = weights @ predicted / total
    mean_t = weights @ truth / total
    dp = predicted[None, :] - mean_p[:, None]
    dt = truth[None, :] - mean_t[:, None]
    var_p = (weights * dp**2).sum(axis=-1) / total
    var_t = (weights * dt**2).sum(axis=-1) / total
    covariance = (weights * dp * dt).sum(axis=-1) / total
    with np.errstate(invalid="ignore", divide="ignore"):
        ccc = 2 * covariance / (var_p + var_t + (mean_p - mean_t) ** 2)
        pearson = covariance / np.sqrt(var_p * var_t)
    mae = weights @ np.abs(predicted - truth) / total
    return {"ccc": ccc, "pearson": pearson, "mae": mae}


def target_metrics(predicted, truth) -> dict[str, float]:
    """CCC, Pearson r and MAE of one target (NaN where a variance is 0)."""
    predicted = np.asarray(predicted, dtype=np.float64)
    truth = np.asarray(truth, dtype=np.float64)
    scores = _weighted(predicted, truth, np.ones((1, len(truth))))
    return {name: float(values[0]) for name, values in scores.items()}


def regression_metrics(predicted, truth, names: tuple[str, ...] | list[str]) -> dict[str, float]:
    """`ccc_<name>`, `pearson_<name>`, `mae_<name>` per target, and `ccc`: their mean CCC (the
    number regression runs are selected and compared by)."""
    predicted = np.asarray(predicted, dtype=np.float64).reshape(len(truth), -1)
    truth = np.asarray(truth, dtype=np.float64).reshape(len(truth), -1)
    result = {}
    for index, name in enumerate(names):
        for metric, value in target_metrics(predicted[:, index], truth[:, index]).items():
            result[f"{metric}_{name}"] = value
    result["ccc"] = float(np.mean([result[f"ccc_{name}"] for name in names]))
    return result


def regression_intervals(
    predicted,
    truth,
    clusters,
    names: tuple[str, ...] | list[str],
    resamples: int = 1000,
    seed: int = 0,
) -> dict:
    """95 % speaker-clustered bootstrap intervals of each target's CCC, Pearson r and MAE and of
    the mean CCC, in the shape of `intervals.bootstrap_intervals` (files resampled, said so,
    when `clusters` is None)."""
    predicted = np.asarray(predicted, dtype=np.float64).reshape(len(truth), -1)
    truth = np.asarray(truth, dtype=np.float64).reshape(len(truth), -1)
    if clusters is None:
        ids = np.arange(len(truth))
    else:
        _, ids = np.unique(np.asarray(clusters).astype(str), return_inverse=True)
    num_clusters = int(ids.max()) + 1 if len(ids) else 0
    weights = resample_counts(num_clusters, resamples, seed)[:, ids]  # (resamples, files)
    whole = regression_metrics(predicted, truth, names)
    metrics, sampled_ccc = {}, []
    for index, name in enumerate(names):
        sampled = _weighted(predicted[:, index], truth[:, index], weights)
        sampled_ccc.append(sampled["ccc"])
        for metric in METRICS:
            low, high = _interval(sampled[metric])
            key = f"{metric}_{name}"
            metrics[key] = {"value": whole[key], "low": low, "high": high}
    low, high = _interval(np.mean(sampled_ccc, axis=0))
    metrics["ccc"] = {"value": whole["ccc"], "low": low, "high": high}
    return {
        **resampling_facts(clusters, num_clusters, len(truth), resamples, seed),
        "metrics": metrics,
    }


def paired_target_bootstrap(
    truth, predicted_a, predicted_b, clusters, names, resamples: int = 1000, seed: int = 0
) -> dict:
    """Per target and metric (and the mean CCC): A, B, B - A, the 95 % paired interval of the
    difference and its two-sided p-value, both systems scored on the same resampled speakers
    (as training.reports.paired_comparison does for the classes' metrics)."""
    truth = np.asarray(truth, dtype=np.float64).reshape(len(truth), -1)
    sides = [
        np.asarray(side, dtype=np.float64).reshape(len(truth), -1)
        for side in (predicted_a, predicted_b)
    ]
    if clusters is None:
        ids = np.arange(len(truth))
    else:
        _, ids = np.unique(np.asarray(clusters).astype(str), return_inverse=True)
    num_clusters = int(ids.max()) + 1 if len(ids) else 0
    weights = np.vstack(
        [np.ones(len(truth)), resample_counts(num_clusters, resamples, seed)[:, ids]]
    )
    scored = [
        {f"{metric}_{name}": values for i, name in enumerate(names)
         for metric, values in _weighted(side[:, i], truth[:, i], weights).items()}
        for side in sides
    ]  # fmt: skip
    for side in scored:
        side["ccc"] = np.mean([side[f"ccc_{name}"] for name in names], axis=0)
    metrics = {}
    for key in ["ccc", *(k for k in scored[0] if k != "ccc")]:
        a, b = scored[0][key], scored[1][key]
        difference = float(b[0] - a[0])
        spread = (b - a)[1:]
        spread = spread[~np.isnan(spread)]
        low, high = _interval(spread)
        extreme = np.abs(spread - difference) >= abs(difference) - 1e-12
        metrics[key] = {"a": float(a[0]), "b": float(b[0]), "difference": difference,
                        "low": low, "high": high,
                        "p_value": float((1 + extreme.sum()) / (1 + len(spread)))}  # fmt: skip
    return {
        **resampling_facts(clusters, num_clusters, len(truth), resamples, seed),
        "metrics": metrics,
    }
