"""Cross-corpus scoring by label name, on probabilities worked out by hand, and the checks made
before a training run spends any time."""

from __future__ import annotations

import datasets
import numpy as np
import pytest

from training.cross_corpus import check_eval_datasets, evaluate_probabilities


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


def test_eval_datasets_are_checked_before_training(tmp_path):
    with pytest.raises(ValueError, match="--eval_dataset_dir .*missing: no such folder"):
        check_eval_datasets([str(tmp_path / "missing")], ["angry"])
    features = datasets.Features({"label": datasets.ClassLabel(names=["boredom"])})
    datasets.Dataset.from_dict({"label": [0]}, features=features).save_to_disk(tmp_path / "d")
    with pytest.raises(ValueError, match=r"its classes \(boredom\) share no name"):
        check_eval_datasets([str(tmp_path / "d")], ["angry", "sad"])
