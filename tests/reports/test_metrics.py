"""training/reports/metrics/emotion_metrics.py, loaded with `evaluate.load` as users load it."""

from __future__ import annotations

import evaluate
import pytest

from training.reports.scores import METRIC_MODULE

LABELS = ["neutral", "calm", "happy"]
# Ten rows worked out by hand below.
REFERENCES = [0, 0, 0, 0, 1, 1, 1, 1, 1, 1]
PREDICTIONS = [0, 0, 0, 1, 1, 1, 1, 1, 0, 2]
CHANNEL = ["speech"] * 6 + ["song"] * 4
INTENSITY = ["normal", "strong"] * 5


@pytest.fixture(scope="module")
def metric():
    return evaluate.load(METRIC_MODULE)


def test_scores_equal_the_hand_computed_values(metric):
    result = metric.compute(predictions=PREDICTIONS, references=REFERENCES, label_names=LABELS)
    assert result["confusion_matrix"] == [[3, 1, 0], [1, 4, 1], [0, 0, 0]]
    assert result["accuracy"] == pytest.approx(7 / 10)
    # happy never occurs in the references: left out of UAR and macro-F1, no recall_happy.
    assert result["recall_neutral"] == pytest.approx(3 / 4)
    assert result["recall_calm"] == pytest.approx(4 / 6)
    assert "recall_happy" not in result
    assert result["uar"] == pytest.approx((3 / 4 + 4 / 6) / 2)
    f1_neutral = 2 * (3 / 4) * (3 / 4) / (3 / 4 + 3 / 4)  # precision 3/4, recall 3/4
    f1_calm = 2 * (4 / 5) * (4 / 6) / (4 / 5 + 4 / 6)  # precision 4/5, recall 4/6
    assert result["macro_f1"] == pytest.approx((f1_neutral + f1_calm) / 2)


def test_group_breakdowns_score_each_value_of_each_column(metric):
    result = metric.compute(
        predictions=PREDICTIONS,
        references=REFERENCES,
        label_names=LABELS,
        groups={"vocal_channel": CHANNEL, "intensity": INTENSITY},
    )
    # speech: rows 0-5 (refs 0 0 0 0 1 1, preds 0 0 0 1 1 1): 5 of 6 right.
    assert result["speech_count"] == 6 and result["speech_accuracy"] == pytest.approx(5 / 6)
    assert result["speech_uar"] == pytest.approx((3 / 4 + 2 / 2) / 2)
    # song: rows 6-9 (refs 1 1 1 1, preds 1 1 0 2): calm only, recall 2/4.
    assert result["song_count"] == 4 and result["song_accuracy"] == pytest.approx(2 / 4)
    assert result["song_uar"] == pytest.approx(2 / 4)
    assert result["song_macro_f1"] == pytest.approx(2 * 1 * 0.5 / 1.5)  # calm: P 1, R 1/2
    # normal: rows 0 2 4 6 8 (refs 0 0 1 1 1, preds 0 0 1 1 0): 4 of 5 right.
    assert result["normal_count"] == 5 and result["normal_accuracy"] == pytest.approx(4 / 5)
    assert result["strong_count"] == 5 and result["strong_accuracy"] == pytest.approx(3 / 5)
    assert result["confusion_matrix"] == [[3, 1, 0], [1, 4, 1], [0, 0, 0]]


def test_a_group_column_of_the_wrong_length_is_refused(metric):
    with pytest.raises(ValueError, match=r"groups\['intensity'\] has 3 values for 10 rows"):
        metric.compute(
            predictions=PREDICTIONS,
            references=REFERENCES,
            label_names=LABELS,
            groups={"intensity": ["normal"] * 3},
        )
