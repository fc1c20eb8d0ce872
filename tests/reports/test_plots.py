"""training.reports.plots: the confusion matrix and training curves PNGs."""

from __future__ import annotations

import matplotlib.image
import numpy as np
import pytest

from data_scripts.corpora.ravdess.facts import EMOTIONS
from training.reports import plots

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _read_png(path) -> np.ndarray:
    assert path.read_bytes()[:8] == PNG_MAGIC
    return matplotlib.image.imread(path)


def _log_history() -> list[dict]:
    steps = [{"loss": 2.0 - 0.1 * i, "epoch": i / 4, "step": 5 * i} for i in range(1, 9)]
    evals = [
        {
            "eval_loss": 1.9 - 0.3 * e,
            "eval_uar": 0.2 + 0.1 * e,
            "eval_accuracy": 0.3 + 0.1 * e,
            "epoch": float(e),
            "step": 20 * e,
        }
        for e in (1, 2)
    ]
    return [*steps, *evals, {"train_loss": 1.5, "train_runtime": 2.0, "epoch": 2.0}]


def test_confusion_matrix_png_is_a_readable_image(tmp_path):
    matrix = (np.eye(8, dtype=int) * 10 + 1).tolist()
    path = plots.plot_confusion_matrix(matrix, list(EMOTIONS), tmp_path / "cm.png")
    image = _read_png(path)
    # 8 labels: a 9 x 7.5 inch figure at 120 dpi.
    assert image.shape == (900, 1080, 4)
    assert image[..., :3].std() > 0.1  # drawn, not blank


def test_confusion_matrix_rejects_a_matrix_that_does_not_match_the_labels(tmp_path):
    with pytest.raises(ValueError, match="does not match 8 labels"):
        plots.plot_confusion_matrix([[1, 2], [3, 4]], list(EMOTIONS), tmp_path / "cm.png")
    assert not (tmp_path / "cm.png").exists()


@pytest.mark.parametrize("kind", ["full", "training_loss_only", "empty"])
def test_training_curves_png_is_written_even_with_missing_keys(tmp_path, kind):
    history = {
        "full": _log_history(),
        "training_loss_only": [e for e in _log_history() if "loss" in e],
        "empty": [],
    }[kind]
    image = _read_png(plots.plot_training_curves(history, tmp_path / "curves.png"))
    assert image.shape == (504, 1320, 4)
    assert [p.name for p in tmp_path.iterdir()] == ["curves.png"]  # no temporary file left
