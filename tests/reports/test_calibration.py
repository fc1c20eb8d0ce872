"""Calibration numbers by hand, and a temperature folded into a real (tiny) model."""

from __future__ import annotations

import math

import numpy as np
import pytest
import soundfile
import torch
from model_helpers import save_tiny_classifier
from pipeline_helpers import pipeline_probabilities
from transformers import Wav2Vec2FeatureExtractor, Wav2Vec2ForSequenceClassification

from training.model.temperature import fold_temperature
from training.reports.calibration import (
    brier_score,
    expected_calibration_error,
    fit_temperature,
    log_loss,
)


def test_expected_calibration_error_of_a_ten_row_table_by_hand():
    """Top probability 0.95 (4 files, 3 right), 0.7 (3 files, 1 right), 0.55 (3 files, all right):
    (4 x |0.75 - 0.95| + 3 x |1/3 - 0.7| + 3 x |1 - 0.55|) / 10 = (0.8 + 1.1 + 1.35) / 10."""
    tops = [0.95] * 4 + [0.7] * 3 + [0.55] * 3
    right = [1, 1, 1, 0] + [1, 0, 0] + [1, 1, 1]
    probabilities = np.array([[p, 1 - p] for p in tops])
    truth = np.array([0 if r else 1 for r in right])
    assert expected_calibration_error(probabilities, truth) == pytest.approx(0.325)


def test_brier_score_and_log_loss_by_hand():
    probabilities = np.array([[0.8, 0.2], [0.6, 0.4]])
    truth = np.array([0, 1])
    assert brier_score(probabilities, truth) == pytest.approx((0.08 + 0.72) / 2)
    assert log_loss(probabilities, truth) == pytest.approx(-(math.log(0.8) + math.log(0.4)) / 2)


@pytest.fixture(scope="module")
def overconfident(tmp_path_factory):
    """A tiny random classifier whose last layer is scaled x 5000 (far too sure of itself), and
    48 generated clips whose labels are its own answer for two thirds of them and another
    class for the rest: right two times in three, yet about 100 % sure every time."""
    folder = save_tiny_classifier(tmp_path_factory.mktemp("model") / "m")
    model = Wav2Vec2ForSequenceClassification.from_pretrained(folder).eval()
    with torch.no_grad():
        model.classifier.weight.mul_(5000)
        model.classifier.bias.mul_(5000)
    rng = np.random.default_rng(0)
    clips = [rng.normal(0, 0.1, 16_000 + 800 * i).astype(np.float32) for i in range(48)]
    extractor = Wav2Vec2FeatureExtractor.from_pretrained(folder)
    with torch.no_grad():
        logits = np.stack(
            [
                model(**extractor(c, sampling_rate=16_000, return_tensors="pt")).logits[0].numpy()
                for c in clips
            ]
        ).astype(np.float64)
    answers = logits.argmax(axis=1)
    other = (answers + 1 + rng.integers(0, model.config.num_labels - 1, len(clips))) % 8
    truth = np.where(np.arange(len(clips)) % 3 == 2, other, answers)
    return model, folder, extractor, clips, logits, truth


def test_an_overconfident_model_gets_a_temperature_above_one(overconfident):
    model, _, _, _, logits, truth = overconfident
    temperature = fit_temperature(logits, truth)
    assert temperature > 1

    def softmax(z):
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    assert log_loss(softmax(logits / temperature), truth) < log_loss(softmax(logits), truth)
    # The fitted T is the minimum: a 10 % step either way is worse.
    for other in (temperature * 0.9, temperature * 1.1):
        assert log_loss(softmax(logits / temperature), truth) < log_loss(
            softmax(logits / other), truth
        )


def test_pipeline_on_the_folded_model_gives_softmax_of_logits_over_t(overconfident, tmp_path):
    model, folder, extractor, clips, logits, truth = overconfident
    temperature = fit_temperature(logits, truth)
    calibrated = Wav2Vec2ForSequenceClassification.from_pretrained(folder).eval()
    calibrated.load_state_dict(model.state_dict())
    fold_temperature(calibrated, temperature)
    calibrated.save_pretrained(tmp_path / "calibrated")
    extractor.save_pretrained(tmp_path / "calibrated")
    files = []
    for index, clip in enumerate(clips):
        files.append(tmp_path / f"clip{index}.wav")
        soundfile.write(files[-1], clip, 16_000, subtype="FLOAT")
    answers = pipeline_probabilities(tmp_path / "calibrated", files)
    labels = [model.config.id2label[i] for i in range(model.config.num_labels)]
    scaled = logits / temperature
    expected = np.exp(scaled - scaled.max(axis=1, keepdims=True))
    expected /= expected.sum(axis=1, keepdims=True)
    for row, path in enumerate(files):
        got = np.array([answers[str(path)][name] for name in labels])
        np.testing.assert_allclose(got, expected[row], atol=1e-5)
        assert got.argmax() == logits[row].argmax()  # the label never changes
