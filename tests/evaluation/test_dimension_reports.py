"""Regression runs in the tools that read saved tables: ser-compare pairs two runs' per-file
tables of continuous targets over speakers, and cross-validation summarises their folds."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from training.evaluation.compare_runs import main as compare_main
from training.reports.cv_summary import cv_summary_markdown, summarize_folds
from training.reports.table_intervals import pooled_fold_intervals

COLUMNS = ["file", "speaker", "true_arousal", "predicted_arousal"]


def _write_run(folder, truth, predicted, speakers):
    folder.mkdir(parents=True)
    with open(folder / "test_predictions.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        for index, row in enumerate(zip(speakers, truth, predicted, strict=True)):
            writer.writerow([f"clip{index:02d}.wav", *row])
    return folder


def _runs(tmp_path):
    rng = np.random.default_rng(0)
    truth = np.round(rng.uniform(1, 5, 40), 3)
    speakers = [f"s{i % 8}" for i in range(40)]
    exact = _write_run(tmp_path / "b", truth, truth, speakers)
    noisy = _write_run(tmp_path / "a", truth, np.round(3 + 0.2 * (truth - 3), 3), speakers)
    return truth, noisy, exact


def test_compare_pairs_two_regression_runs_by_their_mean_ccc(tmp_path, capsys):
    truth, noisy, exact = _runs(tmp_path)
    assert compare_main([str(noisy), str(exact), "--resamples", "300"]) == 0
    text = capsys.readouterr().out
    assert "Verdict: B has the higher mean CCC" in text
    assert compare_main([str(noisy), str(exact), "--json", "--resamples", "300"]) == 0
    import json

    result = json.loads(capsys.readouterr().out)
    squeezed = 3 + 0.2 * (truth - 3)  # A's answers: a fifth of the spread, same mean
    by_hand = (
        2
        * np.mean((squeezed - squeezed.mean()) * (truth - truth.mean()))
        / (squeezed.var() + truth.var() + (squeezed.mean() - truth.mean()) ** 2)
    )
    ccc = result["metrics"]["ccc_arousal"]
    assert ccc["a"] == pytest.approx(by_hand, abs=1e-3) and ccc["b"] == pytest.approx(1.0)
    assert ccc["low"] > 0 and result["unit"] == "speaker" and result["speakers"] == 8
    assert result["metrics"]["mae_arousal"]["b"] == pytest.approx(0.0)


def test_compare_refuses_runs_rated_differently(tmp_path, capsys):
    truth, noisy, _ = _runs(tmp_path)
    other = _write_run(tmp_path / "c", truth + 1, truth, [f"s{i % 8}" for i in range(40)])
    with pytest.raises(SystemExit):
        compare_main([str(noisy), str(other)])
    assert "clip00.wav: true_arousal" in capsys.readouterr().err


def test_cross_validation_summarises_regression_folds(tmp_path):
    folds = [
        {"fold": 0, "test_speakers": ["s0"], "test_ccc": 0.5, "test_ccc_arousal": 0.5,
         "test_mae_arousal": 1.0},
        {"fold": 1, "test_speakers": ["s1"], "test_ccc": 0.7, "test_ccc_arousal": 0.7,
         "test_mae_arousal": 0.5},
    ]  # fmt: skip
    summary = summarize_folds(folds)
    assert summary["ccc"] == pytest.approx({"mean": 0.6, "std": 0.1})
    assert summary["mae_arousal"] == pytest.approx({"mean": 0.75, "std": 0.25})
    assert "0.600 ± 0.100" in cv_summary_markdown(folds, summary)
    truth, _, _ = _runs(tmp_path)
    for fold in (0, 1):
        _write_run(tmp_path / "cv" / f"fold_{fold}", truth, truth, [f"s{fold}{i % 4}" for i in
                                                                      range(40)])  # fmt: skip
    pooled = pooled_fold_intervals(tmp_path / "cv", folds)
    assert pooled["files"] == 80 and pooled["speakers"] == 8
    assert pooled["metrics"]["ccc_arousal"]["value"] == pytest.approx(1.0)
