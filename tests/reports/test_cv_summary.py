"""training.reports.cv_summary: mean and std over folds, the fold table, the CV card."""

from __future__ import annotations

import re

import numpy as np
import pytest
import yaml

from training.reports.cv_summary import cv_summary_markdown, summarize_folds, write_cv_summary_card


def _front_matter(text: str) -> dict:
    match = re.match(r"^---\n(.*?)\n---\n", text, flags=re.DOTALL)
    assert match, "model card does not start with YAML front matter"
    return yaml.safe_load(match.group(1))


def _folds() -> list[dict]:
    """Folds as run_cross_validation stores them in cv_results.json."""
    accuracy, uar, f1 = [0.61, 0.655, 0.702], [0.58, 0.643, 0.711], [0.57, 0.62, 0.69]
    return [
        {
            "fold": k,
            "test_speakers": [4 * k + a for a in (1, 2, 3, 4)],
            "test_samples": 240,
            "test_accuracy": accuracy[k],
            "test_uar": uar[k],
            "test_macro_f1": f1[k],
            "test_recall_sad": 0.4 + 0.1 * k,
        }
        for k in range(3)
    ]


def test_cv_summary_mean_and_std_equal_numpy_on_fold_values():
    folds = _folds()
    summary = summarize_folds(folds)
    for name in ("accuracy", "uar", "macro_f1", "recall_sad"):
        values = np.array([f[f"test_{name}"] for f in folds])
        assert summary[name]["mean"] == pytest.approx(np.mean(values))
        assert summary[name]["std"] == pytest.approx(np.std(values))
    markdown = cv_summary_markdown(folds, summary)
    mean_row = next(line for line in markdown.splitlines() if "mean ± std" in line)
    accuracy = np.array([f["test_accuracy"] for f in folds])
    expected = f"{100 * accuracy.mean():.1f} ± {100 * accuracy.std():.1f}"
    assert expected == "65.6 ± 3.8"
    assert expected in mean_row
    recall = np.array([f["test_recall_sad"] for f in folds])
    assert f"| sad | {100 * recall.mean():.1f} ± {100 * recall.std():.1f} |" in markdown


def test_cv_summary_has_one_row_per_fold_with_its_test_speakers():
    folds = _folds()
    markdown = cv_summary_markdown(folds, summarize_folds(folds))
    assert "| 1 | 5, 6, 7, 8 | 240 | 65.5 | 64.3 | 62.0 |" in markdown
    fold_rows = [line for line in markdown.splitlines() if re.match(r"^\| \d \|", line)]
    assert len(fold_rows) == 3


def test_cv_summary_card_has_front_matter_and_the_table(tmp_path):
    folds = _folds()
    card = write_cv_summary_card(tmp_path, folds, summarize_folds(folds))
    text = card.read_text()
    assert card.name == "README.md"
    assert _front_matter(text)["license"] == "cc-by-nc-sa-4.0"
    assert "# Cross-validation on RAVDESS (3 folds)" in text
    assert cv_summary_markdown(folds, summarize_folds(folds)).strip() in text


def test_a_class_absent_from_one_fold_is_averaged_over_the_folds_that_have_it():
    folds = _folds()
    folds[0]["test_recall_calm"] = 0.5
    folds[2]["test_recall_calm"] = 0.9
    summary = summarize_folds(folds)
    assert summary["recall_calm"] == {"mean": pytest.approx(0.7), "std": pytest.approx(0.2)}
