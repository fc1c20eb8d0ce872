"""A multitask run reports its class head's calibration as a classification run does: ECE (15
equal-width bins of the top probability), Brier score and log loss on validation and test,
before and after the fitted temperature, with the reliability diagram in its card. Every test
number recomputes from the per-file table (written out here, not imported); the temperature
changes no label and no target value: a run trained alike with --calibration none gives the same
labels and values, and its probabilities are the table's before the temperature."""

from __future__ import annotations

import numpy as np
import pytest
from training_helpers import (
    predictions_table,
    prepare_in_process,
    read_json,
    train_command,
    train_in_process,
)

from bench.dimension_corpus import write_dimension_corpus

RUN = ("--task", "multitask", "--targets", "arousal", "--max_train_seconds", "0.6",
       "--num_train_epochs", "2")  # fmt: skip


def expected_calibration_error(probabilities, truth, bins=15):
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == truth
    total = 0.0
    for b in range(bins):
        low, high = b / bins, (b + 1) / bins
        members = (confidence > low) & (confidence <= high)
        if members.any():
            total += members.sum() * abs(correct[members].mean() - confidence[members].mean())
    return total / len(truth)


def scores(probabilities, truth) -> dict:
    onehot = np.eye(probabilities.shape[1])[truth]
    return {
        "ece": expected_calibration_error(probabilities, truth),
        "brier": ((probabilities - onehot) ** 2).sum(axis=1).mean(),
        "log_loss": -np.log(probabilities[np.arange(len(truth)), truth]).mean(),
    }


def table_of(run):
    columns, rows = predictions_table(run)
    classes = [c.removeprefix("prob_") for c in columns if c.startswith("prob_")]
    probabilities = np.array([[float(r[f"prob_{c}"]) for c in classes] for r in rows])
    truth = np.array([classes.index(r["true_emotion"]) for r in rows])
    return rows, probabilities, truth


@pytest.fixture(scope="module")
def runs(checkpoint, tmp_path_factory):
    root = tmp_path_factory.mktemp("multitask_calibration")
    manifest = write_dimension_corpus(root / "audio", speakers=8, clips=6)
    prepared = root / "prepared"
    prepare_in_process("--corpus", "manifest", "--manifest", str(manifest),
                       "--target_columns", "arousal", "--output_dir", str(prepared),
                       "--cache_dir", str(root / "cache"))  # fmt: skip
    calibrated, plain = root / "calibrated", root / "plain"
    train_in_process(train_command(checkpoint, calibrated, "--dataset_dir", str(prepared), *RUN))
    train_in_process(train_command(checkpoint, plain, "--dataset_dir", str(prepared), *RUN,
                                   "--calibration", "none"))  # fmt: skip
    return calibrated, plain


def test_reported_calibration_numbers_recompute_from_the_test_table(runs):
    calibrated, _ = runs
    _, probabilities, truth = table_of(calibrated)
    results = read_json(calibrated / "test_results.json")
    report = read_json(calibrated / "calibration.json")
    temperature = report["temperature"]
    assert temperature > 0 and report["method"] == "temperature"
    after = scores(probabilities, truth)
    logits_before = np.log(probabilities) * temperature  # the unfolded model's, up to a shift
    before_exp = np.exp(logits_before - logits_before.max(axis=1, keepdims=True))
    before = scores(before_exp / before_exp.sum(axis=1, keepdims=True), truth)
    for name in ("ece", "brier", "log_loss"):
        assert results[f"test_{name}"] == pytest.approx(after[name], abs=1e-4), name
        assert report["test"]["after"][name] == pytest.approx(after[name], abs=1e-4), name
        assert report["test"]["before"][name] == pytest.approx(before[name], abs=1e-4), name
    assert set(report["validation"]) == {"before", "after"}
    assert "eval_ece" in read_json(calibrated / "eval_results.json")
    assert (calibrated / "reliability_diagram.png").stat().st_size > 0
    card = (calibrated / "README.md").read_text()
    assert "## Calibration" in card and "![Reliability diagram](reliability_diagram.png)" in card
    assert f"{temperature:.4f}" in card and "the class rows of the last linear layer" in card


def test_the_temperature_changes_no_label_and_no_value(runs):
    calibrated, plain = runs
    rows, probabilities, _ = table_of(calibrated)
    plain_rows, plain_probabilities, _ = table_of(plain)
    assert [r["file"] for r in rows] == [r["file"] for r in plain_rows]
    assert [r["predicted_emotion"] for r in rows] == [r["predicted_emotion"] for r in plain_rows]
    assert [float(r["predicted_arousal"]) for r in rows] == pytest.approx(
        [float(r["predicted_arousal"]) for r in plain_rows], abs=1e-4
    )
    temperature = read_json(calibrated / "calibration.json")["temperature"]
    assert temperature != pytest.approx(1.0, abs=1e-3)  # else the check below shows nothing
    unfolded = np.exp(np.log(probabilities) * temperature)
    unfolded /= unfolded.sum(axis=1, keepdims=True)
    assert unfolded == pytest.approx(plain_probabilities, abs=1e-4)
    assert read_json(plain / "calibration.json")["method"] == "none"
