"""Cross-corpus scoring by label name, on probabilities worked out by hand, and the checks made
before a training run spends any time."""

from __future__ import annotations

import datasets
import numpy as np
import pytest

from training.evaluation.cross_corpus import check_eval_datasets, evaluate_probabilities


def test_masked_and_unrestricted_scores_of_hand_made_probabilities():
    probabilities = np.array(
        [
            [0.6, 0.3, 0.1],  # a: a either way
            [0.2, 0.1, 0.7],  # a: c unrestricted (wrong), a among the shared a, b (right)
            [0.5, 0.4, 0.1],  # b: a either way (wrong)
            [0.1, 0.1, 0.8],  # d: a class the model lacks, not scored
        ]
    )
    results = evaluate_probabilities(probabilities, ["a", "a", "b", "d"], ["a", "b", "c"])
    assert results["shared_labels"] == ["a", "b"]
    assert (results["model_only_labels"], results["corpus_only_labels"]) == (["c"], ["d"])
    assert (results["scored_files"], results["files_of_classes_the_model_lacks"]) == (3, 1)
    assert results["unrestricted"]["accuracy"] == pytest.approx(1 / 3)
    assert results["unrestricted"]["uar"] == pytest.approx((1 / 2 + 0) / 2)
    assert results["shared_classes"]["accuracy"] == pytest.approx(2 / 3)
    assert results["shared_classes"]["uar"] == pytest.approx((1 + 0) / 2)


def test_cross_corpus_intervals_resample_the_corpus_speakers():
    """Two speakers, each right on one of two shared-class files: every resample gives 0.5
    (zero width); the unscored file of a class the model lacks is no speaker's."""
    probabilities = np.array([[0.9, 0.1, 0.0], [0.9, 0.1, 0.0]] * 2 + [[0.1, 0.1, 0.8]])
    true_names = ["a", "b", "a", "b", "d"]
    speakers = ["s1", "s1", "s2", "s2", "s3"]
    results = evaluate_probabilities(probabilities, true_names, ["a", "b", "c"], speakers)
    for key in ("shared_classes", "unrestricted"):
        intervals = results[key]["intervals"]
        assert intervals["metrics"]["accuracy"] == {"value": 0.5, "low": 0.5, "high": 0.5}
        assert (intervals["speakers"], intervals["files"], intervals["unit"]) == (2, 4, "speaker")
    plain = evaluate_probabilities(probabilities, true_names, ["a", "b", "c"])
    assert plain["unrestricted"]["intervals"]["unit"] == "file"


def test_eval_datasets_are_checked_before_training(tmp_path):
    with pytest.raises(ValueError, match="--eval_dataset_dir .*missing: no such folder"):
        check_eval_datasets([str(tmp_path / "missing")], ["angry"])
    features = datasets.Features({"label": datasets.ClassLabel(names=["boredom"])})
    datasets.Dataset.from_dict({"label": [0]}, features=features).save_to_disk(tmp_path / "d")
    with pytest.raises(ValueError, match=r"its classes \(boredom\) share no name"):
        check_eval_datasets([str(tmp_path / "d")], ["angry", "sad"])
