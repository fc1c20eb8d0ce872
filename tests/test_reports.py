"""training.reports: PNG plots, the model card and the cross-validation summary card."""

from __future__ import annotations

import re
import subprocess
import sys

import datasets
import matplotlib.image
import numpy as np
import pytest
import soundfile
import yaml
from model_helpers import save_tiny_classifier

from data_scripts.ravdess_facts import EMOTIONS
from data_scripts.splits import split_dataset, split_summary
from training import reports

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
TEST_ACTORS = [23, 24]
TRAIN_ACTORS = list(range(1, 21))


def _front_matter(text: str) -> dict:
    match = re.match(r"^---\n(.*?)\n---\n", text, flags=re.DOTALL)
    assert match, "model card does not start with YAML front matter"
    return yaml.safe_load(match.group(1))


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


def _full_info() -> dict:
    test_metrics = {
        "test_accuracy": 0.7123,
        "test_uar": 0.70149,
        "test_macro_f1": 0.6954,
        "test_loss": 0.9,
        "test_samples": 208,
        **{f"test_recall_{e}": 0.5 + 0.05 * i for i, e in enumerate(EMOTIONS)},
        "test_speech_accuracy": 0.724,
        "test_speech_uar": 0.711,
        "test_speech_macro_f1": 0.702,
        "test_speech_count": 120,
        "test_confusion_matrix": np.eye(8, dtype=int).tolist(),
    }
    return {
        "base_model": "facebook/wav2vec2-base-960h",
        "vocal_channel": "speech",
        "pooling": "mean",
        "split": {
            "protocol": "speaker",
            "seed": 42,
            "actors": {"train": TRAIN_ACTORS, "validation": [21, 22], "test": TEST_ACTORS},
            "counts": {"train": 1200, "validation": 120, "test": 120},
        },
        "test_metrics": test_metrics,
        "eval_metrics": {"eval_accuracy": 0.655, "eval_uar": 0.641},
        "training": {"learning_rate": 3e-5, "num_train_epochs": 10, "encoder_learning_rate": None},
        "run_info": {"num_processes": 2, "precision": "bf16", "command": ["python", "-m", "x"]},
    }


def test_confusion_matrix_png_is_a_readable_image(tmp_path):
    matrix = (np.eye(8, dtype=int) * 10 + 1).tolist()
    path = reports.plot_confusion_matrix(matrix, list(EMOTIONS), tmp_path / "cm.png")
    image = _read_png(path)
    # 8 labels: a 9 x 7.5 inch figure at 120 dpi.
    assert image.shape == (900, 1080, 4)
    assert image[..., :3].std() > 0.1  # drawn, not blank


def test_confusion_matrix_rejects_a_matrix_that_does_not_match_the_labels(tmp_path):
    with pytest.raises(ValueError, match="does not match 8 labels"):
        reports.plot_confusion_matrix([[1, 2], [3, 4]], list(EMOTIONS), tmp_path / "cm.png")
    assert not (tmp_path / "cm.png").exists()


@pytest.mark.parametrize("kind", ["full", "training_loss_only", "empty"])
def test_training_curves_png_is_written_even_with_missing_keys(tmp_path, kind):
    history = {
        "full": _log_history(),
        "training_loss_only": [e for e in _log_history() if "loss" in e],
        "empty": [],
    }[kind]
    image = _read_png(reports.plot_training_curves(history, tmp_path / "curves.png"))
    assert image.shape == (504, 1320, 4)


def test_model_card_front_matter_parses_with_license_and_task(tmp_path):
    card = reports.write_model_card(tmp_path, _full_info()).read_text()
    metadata = _front_matter(card)
    assert metadata["license"] == "cc-by-nc-sa-4.0"
    assert metadata["pipeline_tag"] == "audio-classification"
    assert metadata["datasets"] == ["ravdess"]
    assert metadata["base_model"] == "facebook/wav2vec2-base-960h"
    values = {m["type"]: m["value"] for m in metadata["model-index"][0]["results"][0]["metrics"]}
    assert values == {"accuracy": 0.7123, "recall": 0.7015, "f1": 0.6954}


def test_model_card_lists_actors_metrics_license_and_citation(tmp_path):
    card = reports.write_model_card(tmp_path, _full_info()).read_text()
    train_row = ", ".join(map(str, TRAIN_ACTORS)) + " (10 male, 10 female) | 1200 |"
    assert f"| train | {train_row}" in card
    assert "| test | 23, 24 (1 male, 1 female) | 120 |" in card
    assert "| Accuracy | 71.2 | 65.5 |" in card
    assert "| UAR (unweighted average recall) | 70.1 | 64.1 |" in card
    assert "| Macro-F1 | 69.5 |  |" in card
    assert "| Recall: sad | 65.0 |  |" in card
    assert "| speech | 120 | 72.4 | 71.1 | 70.2 |" in card
    assert "| `learning_rate` | 3e-05 |" in card and "encoder_learning_rate" not in card
    assert "| processes | 2 |" in card and "| precision | bf16 |" in card
    assert "CC BY-NC-SA 4.0" in card
    assert "Livingstone SR, Russo FA (2018)" in card and "doi:10.1371/journal.pone.0196391" in card
    assert 'pipeline("audio-classification"' in card


def test_model_card_reads_split_json_from_split_summary(tmp_path):
    actors = [a for a in range(1, 9) for _ in range(3)]
    rows = datasets.Dataset.from_dict(
        {"actor": actors, "label": [i % len(EMOTIONS) for i in range(len(actors))]},
        features=datasets.Features(
            {"actor": datasets.Value("int32"), "label": datasets.ClassLabel(names=EMOTIONS)}
        ),
    )
    summary = split_summary(split_dataset(rows, protocol="kfold", fold=1, num_folds=4))
    test_actors = summary["splits"]["test"]["actors"]
    card = reports.write_model_card(tmp_path, {"split": summary}).read_text()
    assert len(test_actors) == 2
    listed = ", ".join(map(str, test_actors))
    assert f"| test | {listed} (1 male, 1 female) | 6 |" in card
    assert "fold 1" in card and "num_folds 4" in card


def test_model_card_with_no_information_still_has_license_and_no_results(tmp_path):
    card = reports.write_model_card(tmp_path, {}).read_text()
    metadata = _front_matter(card)
    assert metadata["license"] == "cc-by-nc-sa-4.0"
    assert "base_model" not in metadata and "model-index" not in metadata
    assert "## Results" not in card and "## Split protocol" not in card
    assert "doi:10.1371/journal.pone.0196391" in card


def test_model_card_usage_snippet_runs_with_pipeline(tmp_path):
    model_dir = save_tiny_classifier(tmp_path / "model")
    card = reports.write_model_card(model_dir, {}).read_text()
    snippet = re.search(r"```python\n(.*?)```", card, flags=re.DOTALL).group(1)
    tone = np.sin(np.linspace(0, 800 * np.pi, 24_000)).astype(np.float32)
    soundfile.write(tmp_path / "speech.wav", np.stack([tone, tone], axis=1), 24_000)
    completed = subprocess.run(
        [sys.executable, "-c", snippet], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert completed.returncode == 0, completed.stderr
    answered = re.findall(r"'label': '(\w+)'", completed.stdout)
    assert len(answered) == 3 and set(answered) <= set(EMOTIONS)


def _folds() -> list[dict]:
    accuracy, uar, f1 = [0.61, 0.655, 0.702], [0.58, 0.643, 0.711], [0.57, 0.62, 0.69]
    return [
        {
            "fold": k,
            "test_actors": [4 * k + a for a in (1, 2, 3, 4)],
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
    summary = reports.summarize_folds(folds)
    for name in ("accuracy", "uar", "macro_f1"):
        values = np.array([f[f"test_{name}"] for f in folds])
        assert summary[name]["mean"] == pytest.approx(np.mean(values))
        assert summary[name]["std"] == pytest.approx(np.std(values))
    markdown = reports.cv_summary_markdown(folds, summary)
    mean_row = next(line for line in markdown.splitlines() if "mean ± std" in line)
    accuracy = np.array([f["test_accuracy"] for f in folds])
    expected = f"{100 * accuracy.mean():.1f} ± {100 * accuracy.std():.1f}"
    assert expected == "65.6 ± 3.8"
    assert expected in mean_row
    recall = np.array([f["test_recall_sad"] for f in folds])
    assert f"| sad | {100 * recall.mean():.1f} ± {100 * recall.std():.1f} |" in markdown


def test_cv_summary_has_one_row_per_fold_and_accepts_prefixed_summary_keys():
    folds = _folds()
    prefixed = {f"test_{k}": v for k, v in reports.summarize_folds(folds).items()}
    markdown = reports.cv_summary_markdown(folds, prefixed)
    assert markdown == reports.cv_summary_markdown(folds, None)
    assert "| 1 | 5, 6, 7, 8 | 240 | 65.5 | 64.3 | 62.0 |" in markdown
    fold_rows = [line for line in markdown.splitlines() if re.match(r"^\| \d \|", line)]
    assert len(fold_rows) == 3


def test_cv_summary_card_has_front_matter_and_the_table(tmp_path):
    folds = _folds()
    card = reports.write_cv_summary_card(tmp_path, folds, reports.summarize_folds(folds))
    text = card.read_text()
    assert card.name == "README.md"
    assert _front_matter(text)["license"] == "cc-by-nc-sa-4.0"
    assert "# Cross-validation on RAVDESS (3 folds)" in text
    assert reports.cv_summary_markdown(folds).strip() in text
