"""training.reports.model_card: the model card a run writes into its model directory."""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter

import datasets
import numpy as np
import soundfile
import yaml
from huggingface_hub import ModelCard
from model_helpers import save_tiny_classifier

from data_scripts.common.splits import split_corpus, split_summary
from data_scripts.corpora.ravdess.facts import EMOTIONS, actor_gender
from data_scripts.corpora.ravdess_corpus import FACTS
from training.reports.model_card import write_model_card

TEST_ACTORS = [23, 24]
TRAIN_ACTORS = list(range(1, 21))


def _part(actors, count) -> dict:
    """One split as split.json holds it: speakers, their genders, files."""
    return {
        "speakers": [f"{a:02d}" for a in actors],
        "genders": dict(Counter(actor_gender(a) for a in actors)),
        "count": count,
    }


def _front_matter(text: str) -> dict:
    match = re.match(r"^---\n(.*?)\n---\n", text, flags=re.DOTALL)
    assert match, "model card does not start with YAML front matter"
    return yaml.safe_load(match.group(1))


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
        "split": {  # split.json's layout (data_scripts.common.splits.split_summary)
            "protocol": "speaker",
            "seed": 42,
            "speaker_independent": True,
            "splits": {
                "train": _part(TRAIN_ACTORS, 1200),
                "validation": _part([21, 22], 120),
                "test": _part(TEST_ACTORS, 120),
            },
        },
        # What training passes: the corpus's facts (corpus.json) and the breakdown columns.
        "dataset": FACTS.as_dict(),
        "breakdown": {"vocal_channel": ["speech", "song"], "intensity": ["normal", "strong"]},
        "test_metrics": test_metrics,
        "eval_metrics": {"eval_accuracy": 0.655, "eval_uar": 0.641},
        "training": {"learning_rate": 3e-5, "num_train_epochs": 10, "encoder_learning_rate": None},
        "run_info": {"num_processes": 2, "precision": "bf16", "command": ["python", "-m", "x"]},
    }


def test_model_card_front_matter_parses_with_license_and_task(tmp_path):
    card = write_model_card(tmp_path, _full_info()).read_text()
    metadata = _front_matter(card)
    assert metadata["license"] == "cc-by-nc-sa-4.0"
    assert metadata["pipeline_tag"] == "audio-classification"
    assert metadata["datasets"] == ["ravdess"]
    assert metadata["base_model"] == "facebook/wav2vec2-base-960h"
    values = {m["type"]: m["value"] for m in metadata["model-index"][0]["results"][0]["metrics"]}
    assert values == {"accuracy": 0.7123, "recall": 0.7015, "f1": 0.6954}


def test_model_card_model_index_parses_with_huggingface_hub_and_keeps_its_values(tmp_path):
    """What the Hub reads: huggingface_hub's own parser gives back every metric, the dataset
    and the split protocol, and the card's title as the model's name."""
    path = write_model_card(tmp_path / "run", _full_info())
    card = ModelCard.load(path)
    assert card.data.model_name == "run"
    assert card.data.license == "cc-by-nc-sa-4.0" and card.data.datasets == ["ravdess"]
    found = {(r.metric_type, r.metric_name): r.metric_value for r in card.data.eval_results}
    assert found == {
        ("accuracy", "Accuracy"): 0.7123,
        ("recall", "UAR (unweighted average recall)"): 0.7015,
        ("f1", "Macro-F1"): 0.6954,
    }
    for result in card.data.eval_results:
        assert (result.task_type, result.task_name) == (
            "audio-classification",
            "Emotion recognition",
        )
        assert (result.dataset_type, result.dataset_name, result.dataset_split) == (
            "ravdess",
            "RAVDESS (speaker split)",
            "test",
        )


def test_model_card_lists_actors_metrics_license_and_citation(tmp_path):
    card = write_model_card(tmp_path, _full_info()).read_text()
    train_row = ", ".join(f"{a:02d}" for a in TRAIN_ACTORS[:12]) + " ... (10 female, 10 male)"
    assert f"| train | {train_row} | 1200 |" in card
    assert "| test | 23, 24 (1 female, 1 male) | 120 |" in card
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
        {
            "speaker": [f"{a:02d}" for a in actors],
            "gender": [actor_gender(a) for a in actors],
            "file": [f"{i}.wav" for i in range(len(actors))],
            "label": [i % len(EMOTIONS) for i in range(len(actors))],
        },
        features=datasets.Features(
            {
                "speaker": datasets.Value("string"),
                "gender": datasets.Value("string"),
                "file": datasets.Value("string"),
                "label": datasets.ClassLabel(names=EMOTIONS),
            }
        ),
    )
    summary = split_summary(*split_corpus(rows, protocol="kfold", fold=1, num_folds=4))
    test_actors = summary["splits"]["test"]["speakers"]
    card = write_model_card(tmp_path, {"split": summary}).read_text()
    assert len(test_actors) == 2
    listed = ", ".join(test_actors)
    assert f"| test | {listed} (1 female, 1 male) | 6 |" in card
    assert "fold 1" in card and "num_folds 4" in card


def test_model_card_with_no_information_still_has_license_and_no_results(tmp_path):
    card = write_model_card(tmp_path, {}).read_text()
    metadata = _front_matter(card)
    assert metadata["license"] == "cc-by-nc-sa-4.0"
    assert "base_model" not in metadata and "model-index" not in metadata
    assert "## Results" not in card and "## Split protocol" not in card
    assert "doi:10.1371/journal.pone.0196391" in card


def test_model_card_usage_snippet_runs_with_pipeline(tmp_path):
    model_dir = save_tiny_classifier(tmp_path / "model")
    card = write_model_card(model_dir, {}).read_text()
    snippet = re.search(r"```python\n(.*?)```", card, flags=re.DOTALL).group(1)
    tone = np.sin(np.linspace(0, 800 * np.pi, 24_000)).astype(np.float32)
    soundfile.write(tmp_path / "speech.wav", np.stack([tone, tone], axis=1), 24_000)
    completed = subprocess.run(
        [sys.executable, "-c", snippet], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert completed.returncode == 0, completed.stderr
    answered = re.findall(r"'label': '(\w+)'", completed.stdout)
    assert len(answered) == 3 and set(answered) <= set(EMOTIONS)
