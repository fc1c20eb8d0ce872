"""Speaker-clustered bootstrap intervals on tables whose answer is known by hand."""

from __future__ import annotations

import numpy as np
import pytest

from training.reports.intervals import bootstrap_intervals
from training.reports.scores import load_metric

NAMES = ["neutral", "happy", "sad"]


def _table(speakers: int, right: int, wrong: int):
    """Every speaker with `right` correct and `wrong` wrong files (truth cycles the classes)."""
    truth, predicted, clusters = [], [], []
    for speaker in range(speakers):
        for index in range(right + wrong):
            label = index % len(NAMES)
            truth.append(label)
            predicted.append(label if index < right else (label + 1) % len(NAMES))
            clusters.append(f"s{speaker}")
    return np.array(truth), np.array(predicted), np.array(clusters)


def test_every_speaker_at_the_same_accuracy_gives_a_zero_width_interval():
    truth, predicted, clusters = _table(speakers=6, right=3, wrong=1)
    result = bootstrap_intervals(truth, predicted, clusters, NAMES, resamples=500, seed=3)
    accuracy = result["metrics"]["accuracy"]
    assert accuracy == {"value": 0.75, "low": 0.75, "high": 0.75}
    assert result["speakers"] == 6 and result["files"] == 24
    assert result["unit"] == "speaker" and result["resamples"] == 500 and result["seed"] == 3
    assert "rough" in result["note"] and "--cv_folds" in result["note"]  # 6 < 10 speakers


def test_one_perfect_and_one_hopeless_speaker_span_the_whole_range():
    """Two speakers, 10 files each, all right / all wrong: a resample holds both (0.5), or the
    same one twice (0 or 1, a quarter of the time each), so the 95 % interval is [0, 1]."""
    truth = np.zeros(20, dtype=int)
    predicted = np.array([0] * 10 + [1] * 10)
    clusters = np.array(["a"] * 10 + ["b"] * 10)
    result = bootstrap_intervals(truth, predicted, clusters, NAMES, resamples=1000, seed=0)
    assert result["metrics"]["accuracy"] == {"value": 0.5, "low": 0.0, "high": 1.0}
    files = bootstrap_intervals(truth, predicted, None, NAMES, resamples=1000, seed=0)
    assert files["unit"] == "file" and files["speakers"] is None
    assert "no speaker information" in files["note"]
    # Twenty independent files: the interval is far narrower than the speakers' [0, 1].
    assert 0.2 <= files["metrics"]["accuracy"]["low"] < 0.5 < files["metrics"]["accuracy"]["high"]


def test_point_values_are_the_metric_modules_and_results_are_deterministic():
    rng = np.random.default_rng(1)
    truth = rng.integers(0, 3, 90)
    predicted = np.where(rng.random(90) < 0.6, truth, rng.integers(0, 3, 90))
    clusters = np.repeat([f"s{i}" for i in range(15)], 6)
    first = bootstrap_intervals(truth, predicted, clusters, NAMES, resamples=200, seed=7)
    again = bootstrap_intervals(truth, predicted, clusters, NAMES, resamples=200, seed=7)
    assert first == again
    other_seed = bootstrap_intervals(truth, predicted, clusters, NAMES, resamples=200, seed=8)
    assert other_seed != first
    reference = load_metric().compute(predictions=predicted, references=truth, label_names=NAMES)
    for name in ("accuracy", "uar", "macro_f1", *(f"recall_{n}" for n in NAMES)):
        entry = first["metrics"][name]
        assert entry["value"] == pytest.approx(reference[name])
        assert entry["low"] <= entry["value"] <= entry["high"]
    assert "note" not in first  # 15 speakers: not rough
