"""The risk-coverage table on a ten-file table worked out by hand."""

from __future__ import annotations

import pytest

from training.reports.risk_coverage import risk_coverage


def test_accuracy_of_the_most_confident_files_by_hand():
    top = [0.95, 0.90, 0.85, 0.80, 0.75, 0.70, 0.65, 0.60, 0.55, 0.50]
    right = [1, 1, 1, 0, 1, 0, 1, 0, 0, 0]
    rows = {row["target_coverage"]: row for row in risk_coverage(top, right)}
    assert rows[1.0]["threshold"] == 0.50 and rows[1.0]["accuracy"] == pytest.approx(5 / 10)
    assert rows[0.9]["threshold"] == 0.55 and rows[0.9]["accuracy"] == pytest.approx(5 / 9)
    assert rows[0.8]["threshold"] == 0.60 and rows[0.8]["accuracy"] == pytest.approx(5 / 8)
    assert rows[0.7]["threshold"] == 0.65 and rows[0.7]["accuracy"] == pytest.approx(5 / 7)
    assert rows[0.5]["threshold"] == 0.75 and rows[0.5]["accuracy"] == pytest.approx(4 / 5)
    assert rows[0.5]["files"] == 5 and rows[0.5]["coverage"] == 0.5


def test_files_tied_at_the_threshold_are_kept_together():
    rows = risk_coverage([0.9, 0.8, 0.8, 0.8, 0.4], [1, 1, 0, 0, 0], coverages=(0.5,))
    # Half of five is three files; the third ties with two others at 0.8: four are kept.
    assert rows == [
        {"target_coverage": 0.5, "threshold": 0.8, "files": 4, "coverage": 0.8, "accuracy": 0.5}
    ]
