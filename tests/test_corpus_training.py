"""One short training run on a corpus other than RAVDESS (CREMA-D's layout, synthetic voices):
labels, card, per-file table and breakdowns follow the corpus, class weighting is recorded,
and the reported numbers are the table's and pipeline's."""

from __future__ import annotations

import sys
from collections import Counter

import numpy as np
import pytest
from pipeline_helpers import pipeline_probabilities
from training_helpers import predictions_table, read_json, run_command, train_command

from data_scripts.sample_archives import write_voice_file

CREMA_D_LABELS = ["angry", "disgust", "fearful", "happy", "neutral", "sad"]
CODES = {"ANG": "angry", "DIS": "disgust", "FEA": "fearful", "HAP": "happy", "NEU": "neutral"}
# Six actors, three men and three women, as VideoDemographics.csv says.
ACTORS = {"1001": "Male", "1002": "Female", "1003": "Female", "1004": "Male", "1005": "Male",
          "1006": "Female"}  # fmt: skip


@pytest.fixture(scope="module")
def crema_run(checkpoint, tmp_path_factory):
    root = tmp_path_factory.mktemp("crema_d")
    audio = root / "AudioWAV"
    # Unbalanced like the real corpus: fewer sad and neutral files.
    for number, (actor, sex) in enumerate(ACTORS.items()):
        for code, emotion in [*CODES.items(), ("SAD", "sad")]:
            sentences = ("IEO", "DFA") if code in ("NEU", "SAD") else ("IEO", "DFA", "ITS")
            for sentence in sentences:
                level = "HI" if sentence == "IEO" else "XX"
                write_voice_file(
                    audio / f"{actor}_{sentence}_{code}_{level}.wav", emotion, sex == "Male",
                    number, sampling_rate=16_000, seconds=(0.5, 0.8),
                )  # fmt: skip
    rows = "".join(f"{a},30,{s},Caucasian,Not Hispanic\n" for a, s in ACTORS.items())
    (root / "VideoDemographics.csv").write_text("ActorID,Age,Sex,Race,Ethnicity\n" + rows)
    prepared = root / "prepared"
    run_command([
        sys.executable, "-m", "data_scripts.corpora.prepare", "--corpus", "crema_d",
        "--data_dir", str(audio), "--output_dir", str(prepared),
        "--cache_dir", str(root / "cache"),
    ])  # fmt: skip
    output = root / "run"
    run_command(
        train_command(
            checkpoint, output, "--dataset_dir", str(prepared), "--num_train_epochs", "2",
            "--class_weighting", "balanced", "--pooling", "weighted_layers",
        )
    )  # fmt: skip
    return audio, output


def test_labels_card_and_table_follow_the_corpus(crema_run):
    _, output = crema_run
    config = read_json(output / "config.json")
    assert [config["id2label"][str(i)] for i in range(6)] == CREMA_D_LABELS
    columns, rows = predictions_table(output)
    assert columns == [
        "file", "speaker", "gender", "corpus", "sentence", "level", "true_emotion",
        "predicted_emotion", *[f"prob_{name}" for name in CREMA_D_LABELS],
    ]  # fmt: skip
    split = read_json(output / "split.json")
    assert split["protocol"] == "speaker" and split["speaker_independent"] is True
    assert sorted({r["speaker"] for r in rows}) == split["splits"]["test"]["speakers"]
    parts = split["splits"]
    assert not set(parts["test"]["speakers"]) & set(parts["train"]["speakers"])
    card = (output / "README.md").read_text()
    assert "Speech emotion recognition on CREMA-D" in card and "ODbL" in card
    assert "license: odbl" in card and "By level:" in card
    assert "speakers are disjoint" in card and "RAVDESS" not in card


def test_numbers_recompute_from_the_table_with_the_corpus_own_breakdown(crema_run):
    _, output = crema_run
    _, rows = predictions_table(output)
    test = read_json(output / "test_results.json")
    truth = np.array([r["true_emotion"] for r in rows])
    guess = np.array([r["predicted_emotion"] for r in rows])
    assert test["test_samples"] == len(rows)
    assert test["test_accuracy"] == pytest.approx(np.mean(truth == guess))
    for level in ("HI", "XX"):
        mask = np.array([r["level"] == level for r in rows])
        assert test[f"test_{level}_count"] == mask.sum()
        assert test[f"test_{level}_accuracy"] == pytest.approx(np.mean(truth[mask] == guess[mask]))
    recalls = [np.mean(guess[truth == name] == name) for name in sorted(set(truth))]
    assert test["test_uar"] == pytest.approx(np.mean(recalls))


def test_balanced_class_weights_are_inverse_training_counts(crema_run):
    _, output = crema_run
    counts = read_json(output / "split.json")["splits"]["train"]["labels"]
    total = sum(counts.values())
    weighting = read_json(output / "run_info.json")["class_weighting"]
    assert weighting["method"] == "balanced"
    for name, count in counts.items():
        assert weighting["weights"][name] == pytest.approx(total / (len(counts) * count), abs=1e-6)
    # Sad and neutral have 2 files per actor of the others' 3: they weigh 1.5 times as much.
    assert weighting["weights"]["sad"] / weighting["weights"]["angry"] == pytest.approx(1.5)
    assert Counter(counts.values()) == Counter({counts["angry"]: 4, counts["sad"]: 2})
    assert "| `class_weighting` | balanced |" in (output / "README.md").read_text()


def test_reported_probabilities_are_what_pipeline_gives(crema_run):
    audio, output = crema_run
    _, rows = predictions_table(output)
    answers = pipeline_probabilities(output, [audio / r["file"] for r in rows])
    for row in rows:
        answer = answers[str(audio / row["file"])]
        for name in CREMA_D_LABELS:
            assert float(row[f"prob_{name}"]) == pytest.approx(answer[name], abs=1e-4)
