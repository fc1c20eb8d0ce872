"""Two systems scored on the same test files, compared pair-wise from their per-file tables.

- Each metric's difference (B - A) with a 95 % paired speaker-clustered bootstrap interval: the
  same speakers are drawn for both systems in each resample, so what the two share (the test
  speakers' difficulty) cancels. Its two-sided p-value is that of the centred bootstrap:
  the share of resampled differences at least as far from the observed one as the observed one
  is from zero, (1 + count) / (1 + resamples).
- McNemar's exact test for accuracy over files: of the files exactly one system gets right,
  how unlikely such an uneven split is if both were equally good (binomial, p = 1/2).
- The smallest accuracy difference a test set resolves with 80 % power, by simulation from
  its own per-file table (see `smallest_resolvable_difference`).
"""

from __future__ import annotations

import math

import numpy as np

from training.reports.intervals import (
    CONFIDENCE,
    DEFAULT_RESAMPLES,
    DEFAULT_SEED,
    cluster_confusions,
    metrics_of_confusions,
    resample_counts,
    resampling_facts,
)

POWER = 0.8


def mcnemar_exact(correct_a, correct_b) -> dict:
    """Exact two-sided McNemar test: files only A gets right, only B, and the p-value."""
    correct_a, correct_b = np.asarray(correct_a, bool), np.asarray(correct_b, bool)
    only_a = int((correct_a & ~correct_b).sum())
    only_b = int((~correct_a & correct_b).sum())
    discordant = only_a + only_b
    tail = sum(math.comb(discordant, k) for k in range(min(only_a, only_b) + 1))
    p_value = min(1.0, 2 * tail / 2**discordant) if discordant else 1.0
    return {"only_a_right": only_a, "only_b_right": only_b, "p_value": p_value}


def paired_bootstrap(
    truth,
    predicted_a,
    predicted_b,
    clusters,
    label_names: list[str],
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> dict:
    """Per metric: A, B, B - A, its 95 % interval and p-value (resampling `clusters`)."""
    matrices_a = cluster_confusions(truth, predicted_a, clusters, len(label_names))
    matrices_b = cluster_confusions(truth, predicted_b, clusters, len(label_names))
    whole_a = metrics_of_confusions(matrices_a.sum(axis=0), label_names)
    whole_b = metrics_of_confusions(matrices_b.sum(axis=0), label_names)
    counts = resample_counts(len(matrices_a), resamples, seed)
    sampled_a = metrics_of_confusions(np.einsum("bs,sij->bij", counts, matrices_a), label_names)
    sampled_b = metrics_of_confusions(np.einsum("bs,sij->bij", counts, matrices_b), label_names)
    tail = 100 * (1 - CONFIDENCE) / 2
    metrics = {}
    for name in whole_a:
        if np.isnan(whole_a[name]):
            continue
        difference = float(whole_b[name] - whole_a[name])
        spread = sampled_b[name] - sampled_a[name]
        spread = spread[~np.isnan(spread)]
        low, high = np.percentile(spread, [tail, 100 - tail])
        extreme = np.abs(spread - difference) >= abs(difference) - 1e-12
        metrics[name] = {
            "a": float(whole_a[name]),
            "b": float(whole_b[name]),
            "difference": difference,
            "low": float(low),
            "high": float(high),
            "p_value": float((1 + extreme.sum()) / (1 + len(spread))),
        }
    facts = resampling_facts(clusters, len(matrices_a), len(np.asarray(truth)), resamples, seed)
    return {**facts, "metrics": metrics}


def smallest_resolvable_difference(
    correct,
    clusters,
    power: float = POWER,
    simulations: int = 200,
    resamples: int = 200,
    seed: int = DEFAULT_SEED,
) -> float | None:
    """The smallest accuracy gain (0.005 steps) that a paired speaker-clustered bootstrap on
    this test set detects (95 % interval excluding 0) in at least `power` of simulations.

    Each simulation keeps this system's per-file results and draws a second system's: each
    file of speaker s right with probability acc_s + d (acc_s this system's accuracy on s),
    independently of this system's answer; a conservative case, as two real models err on
    many of the same files, which makes smaller differences resolvable. None: no gain up to
    the headroom left (1 - accuracy) is resolved."""
    correct = np.asarray(correct, dtype=float)
    if clusters is None:
        ids = np.arange(len(correct))
    else:
        _, ids = np.unique(np.asarray(clusters).astype(str), return_inverse=True)
    sizes = np.bincount(ids).astype(float)
    hits = np.bincount(ids, weights=correct)
    accuracy = hits / sizes
    rng = np.random.default_rng(seed)
    counts = resample_counts(len(sizes), resamples, seed)  # (resamples, speakers)
    files = counts @ sizes
    tail = 100 * (1 - CONFIDENCE) / 2
    for step in range(1, 201):
        gain = step * 0.005
        if gain > 1 - hits.sum() / sizes.sum():
            return None
        chance = np.clip(accuracy + gain, 0.0, 1.0)
        other = rng.binomial(sizes.astype(int)[None, :], chance[None, :], (simulations, len(sizes)))
        differences = (counts @ (other - hits).T) / files[:, None]  # (resamples, simulations)
        low, high = np.percentile(differences, [tail, 100 - tail], axis=0)
        if ((low > 0) | (high < 0)).mean() >= power:
            return gain
    return None
