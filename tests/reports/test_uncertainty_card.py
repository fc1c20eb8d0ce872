"""The card's intervals and calibration sections say what the numbers rest on."""

from __future__ import annotations

import numpy as np

from training.reports.intervals import bootstrap_intervals
from training.reports.model_card import model_card_markdown

NAMES = ["neutral", "happy"]


def _card(tmp_path, clusters, calibration=None) -> str:
    truth = np.array([0, 1] * 20)
    predicted = np.array([0, 1, 1, 1] * 10)  # 30 of 40 right, every speaker alike
    intervals = bootstrap_intervals(truth, predicted, clusters, NAMES, resamples=200, seed=0)
    info = {
        "test_metrics": {"test_accuracy": 0.75, "test_intervals": intervals},
        "calibration": calibration,
    }
    return model_card_markdown(tmp_path, info)


def test_few_test_speakers_make_the_card_call_the_interval_rough(tmp_path):
    card = _card(tmp_path, np.repeat(["s1", "s2", "s3", "s4", "s5"], 8))
    assert "| Accuracy | 75.0 [75.0, 75.0] |" in card
    assert "Test: 5 speakers, 40 files; 200 bootstrap resamples of speakers, seed 0." in card
    assert "the interval is rough" in card and "--cv_folds" in card


def test_without_speakers_the_card_says_files_were_resampled(tmp_path):
    card = _card(tmp_path, None)
    assert "Test: 40 files; 200 bootstrap resamples of files" in card
    assert "no speaker information" in card


def test_the_calibration_section_shows_before_and_after(tmp_path):
    metrics = {"ece": 0.2, "brier": 0.5, "log_loss": 1.2}
    better = {"ece": 0.05, "brier": 0.4, "log_loss": 0.9}
    calibration = {
        "temperature": 2.5,
        "validation_files": 40,
        "validation": {"before": metrics, "after": better},
        "test": {"before": metrics, "after": better},
    }
    card = _card(tmp_path, None, calibration)
    assert "Temperature T = 2.5000, fitted on the 40 validation files" in card
    assert "| test | before | 20.0 | 0.5000 | 1.2000 |" in card
    assert "| test | after | 5.0 | 0.4000 | 0.9000 |" in card
    untouched = _card(tmp_path, None, {"temperature": None, "test": {"uncalibrated": metrics}})
    assert "`--calibration none`" in untouched
