"""Two code versions (or recipes) trained over several seeds, compared on their seeds' scores.

A run's test-set interval says how much the test speakers alone could move one run; rerunning
with another seed moves it too (initialisation, batch order, dropout). Whether version B
learns worse than version A is a question about the mean over seeds, so it is answered with
the seeds' spread: Welch's t-test on the two lists of per-seed accuracies (unequal variances),
and, before any comparison, the smallest difference a given number of seeds can detect.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from training.reports.intervals import CONFIDENCE
from training.reports.paired_comparison import POWER


def detectable_difference(
    std: float, seeds: int, power: float = POWER, confidence: float = CONFIDENCE
) -> float | None:
    """The smallest difference between two versions' mean scores that a two-sided two-sample
    t-test at `confidence` detects with probability `power`, with `seeds` runs of each and a
    per-seed standard deviation `std`: (t[1 - alpha/2, v] + t[power, v]) * std * sqrt(2 / seeds),
    v = 2 * seeds - 2 degrees of freedom. None below two seeds (no spread to judge by)."""
    if seeds < 2:
        return None
    freedom = 2 * seeds - 2
    quantiles = stats.t.ppf(1 - (1 - confidence) / 2, freedom) + stats.t.ppf(power, freedom)
    return float(quantiles * std * math.sqrt(2 / seeds))


def compare_seed_scores(a, b, confidence: float = CONFIDENCE) -> dict:
    """B's mean minus A's over seeds, its Welch interval and two-sided p-value, and the
    difference these seed counts detect (80 % power) at the two versions' pooled spread."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if len(a) < 2 or len(b) < 2:
        raise ValueError("compare over seeds needs at least two seeds of each version")
    test = stats.ttest_ind(b, a, equal_var=False)
    interval = test.confidence_interval(confidence)
    pooled_std = math.sqrt((a.var(ddof=1) + b.var(ddof=1)) / 2)
    return {
        "seeds_a": len(a),
        "seeds_b": len(b),
        "mean_a": float(a.mean()),
        "mean_b": float(b.mean()),
        "difference": float(b.mean() - a.mean()),
        "low": float(interval.low),
        "high": float(interval.high),
        "p_value": float(test.pvalue),
        "detectable_difference": detectable_difference(pooled_std, min(len(a), len(b))),
    }
