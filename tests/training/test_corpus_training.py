"""One short training run on a corpus other than RAVDESS (CREMA-D's layout, synthetic voices):
labels, card, per-file table and breakdowns follow the corpus, class weighting is recorded,
the model is evaluated cross-corpus on label folders with classes of their own, and every
reported number is the per-file table's and pipeline's."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from pipeline_helpers import pipeline_probabilities
from training_helpers import (
    main_in_process,
    predictions_table,
    prepare_in_process,
    read_json,
    train_command,
    train_in_process,
)

from data_scripts.corpora.ravdess.sample_archives import write_voice_file

CREMA_D_LABELS = ["angry", "disgust", "fearful", "happy", "neutral", "sad"]
CODES = {"ANG": "angry", "DIS": "disgust", "FEA": "fearful", "HAP": "happy", "NEU": "neutral"}
# Six actors, three men and three women, as VideoDemographics.csv says.
ACTORS = {"1001": "Male", "1002": "Female", "1003": "Female", "1004": "Male", "1005": "Male",
          "1006": "Female"}  # fmt: skip


def _prepare(corpus: str, data_dir, output, cache) -> None:
    """The prepare command with a user's arguments (its main, in this process)."""
    prepare_in_process("--corpus", corpus, "--data_dir", str(data_dir), "--output_dir",
                       str(output), "--cache_dir", str(cache))  # fmt: skip


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
    _prepare("crema_d", audio, prepared, root / "cache")
    # Another corpus: label folders with three of CREMA-D's classes and boredom, which it lacks.
    other = root / "other_corpus"
    for label in ("angry", "happy", "sad", "boredom"):
        for n in range(3):
            write_voice_file(other / label / f"s{n}_{label}.wav", label, n % 2 == 0, n,
                             sampling_rate=16_000, seconds=(0.5, 0.8))  # fmt: skip
    _prepare("folder", other, root / "other_prepared", root / "cache")
    output = root / "run"
    train_in_process(
        train_command(
            checkpoint, output, "--dataset_dir", str(prepared), "--num_train_epochs", "2",
            "--class_weighting", "balanced", "--pooling", "weighted_layers",
            "--eval_dataset_dir", str(root / "other_prepared"),
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
    other = output.parent / "other_corpus"
    _, cross_rows = predictions_table(output / "cross_corpus" / "other_corpus")
    files = [audio / r["file"] for r in rows] + [other / r["file"] for r in cross_rows]
    answers = pipeline_probabilities(output, files)
    for folder, table in ((audio, rows), (other, cross_rows)):
        for row in table:
            answer = answers[str(folder / row["file"])]
            for name in CREMA_D_LABELS:
                assert float(row[f"prob_{name}"]) == pytest.approx(answer[name], abs=1e-4)


def _uar(truth, guess):
    return np.mean([np.mean(guess[truth == name] == name) for name in sorted(set(truth))])


def test_cross_corpus_numbers_recompute_from_its_table(crema_run):
    _, output = crema_run
    folder = output / "cross_corpus" / "other_corpus"
    results = read_json(folder / "results.json")
    assert results["shared_labels"] == ["angry", "happy", "sad"]
    assert results["model_only_labels"] == ["disgust", "fearful", "neutral"]
    assert results["corpus_only_labels"] == ["boredom"]
    _, rows = predictions_table(folder)
    assert len(rows) == 12
    scored = [r for r in rows if r["true_emotion"] != "boredom"]
    assert results["scored_files"] == 9 and results["files_of_classes_the_model_lacks"] == 3
    truth = np.array([r["true_emotion"] for r in scored])
    # Unrestricted: the most probable of all six classes; masked: of the three shared ones.
    plain = np.array([max(CREMA_D_LABELS, key=lambda n: float(r[f"prob_{n}"])) for r in scored])
    shared = ["angry", "happy", "sad"]
    masked = np.array([max(shared, key=lambda n: float(r[f"prob_{n}"])) for r in scored])
    assert [r["predicted_emotion"] for r in scored] == plain.tolist()
    assert [r["predicted_shared"] for r in scored] == masked.tolist()
    assert results["unrestricted"]["accuracy"] == pytest.approx(np.mean(plain == truth))
    assert results["unrestricted"]["uar"] == pytest.approx(_uar(truth, plain))
    assert results["shared_classes"]["uar"] == pytest.approx(_uar(truth, masked))
    card = (output / "README.md").read_text()
    assert "## Cross-corpus evaluation" in card and "the model lacks boredom (3 files" in card


def test_ser_evaluate_writes_the_same_results_from_the_saved_model(crema_run, tmp_path):
    _, output = crema_run
    from training.evaluation import cross_corpus

    main_in_process(cross_corpus.main, [
        "--model_dir", str(output),
        "--dataset_dir", str(output.parent / "other_prepared"), "--output_dir", str(tmp_path),
    ])  # fmt: skip
    ours = read_json(tmp_path / "cross_corpus" / "other_corpus" / "results.json")
    trained = read_json(output / "cross_corpus" / "other_corpus" / "results.json")
    for key in ("shared_classes", "unrestricted", "shared_labels", "scored_files"):
        assert ours[key] == trained[key]
    table = (tmp_path / "cross_corpus" / "other_corpus" / "test_predictions.csv").read_text()
    assert table == (output / "cross_corpus" / "other_corpus" / "test_predictions.csv").read_text()


def test_frozen_probe_cross_validation_folds_a_corpus_other_than_ravdess_by_speaker(
    crema_run, checkpoint, tmp_path
):
    audio, _ = crema_run
    output = tmp_path / "cv"
    train_in_process(
        train_command(
            checkpoint, output, "--dataset_dir", str(audio.parent / "prepared"),
            "--cv_folds", "3", "--num_train_epochs", "1", "--save_strategy", "no",
            "--load_best_model_at_end", "false", "--freeze_encoder", "true",
            "--cache_dir", str(tmp_path / "cache"),
        )
    )  # fmt: skip
    # The probe computed the encoder's features once and trained the heads on them.
    assert list((tmp_path / "cache").rglob("frozen_encoder_features"))
    results = read_json(output / "cv_results.json")
    assert [fold["fold"] for fold in results["folds"]] == [0, 1, 2]
    tested = []
    for k in range(3):
        split = read_json(output / f"fold_{k}" / "split.json")
        assert split["speaker_independent"] is True
        speakers = split["splits"]["test"]["speakers"]
        _, rows = predictions_table(output / f"fold_{k}")
        assert {row["speaker"] for row in rows} == set(speakers)
        assert {row["true_emotion"] for row in rows} <= set(CREMA_D_LABELS)
        tested += speakers
    # Every actor is tested exactly once.
    assert sorted(tested) == sorted(ACTORS)
    accuracies = [fold["test_accuracy"] for fold in results["folds"]]
    assert results["summary"]["accuracy"]["mean"] == pytest.approx(np.mean(accuracies))
    # The summary card names the corpus and its speakers, not RAVDESS and actors.
    card = (output / "README.md").read_text()
    assert "# Cross-validation on CREMA-D (3 folds)" in card and "RAVDESS" not in card
    assert "| fold | test speakers |" in card


def test_leave_one_speaker_out_runs_a_fold_per_speaker_of_a_two_speaker_corpus(
    checkpoint, tmp_path
):
    # TESS's layout: two speakers, one folder per speaker and emotion.
    data = tmp_path / "TESS"
    for speaker in ("OAF", "YAF"):
        for word, emotion in (("angry", "angry"), ("happy", "happy"), ("sad", "sad")):
            for n in range(5):
                write_voice_file(data / f"{speaker}_{word}" / f"{speaker}_w{n}_{word}.wav",
                                 emotion, False, 0 if speaker == "OAF" else 1,
                                 sampling_rate=24_414, seconds=(0.5, 0.8))  # fmt: skip
    prepared = tmp_path / "prepared"
    _prepare("tess", data, prepared, tmp_path / "cache")
    output = tmp_path / "loso"
    train_in_process(
        train_command(
            checkpoint, output, "--dataset_dir", str(prepared), "--cv_folds", "loso",
            "--num_train_epochs", "1", "--save_strategy", "no", "--load_best_model_at_end",
            "false",
        )
    )  # fmt: skip
    results = read_json(output / "cv_results.json")
    assert [fold["test_speakers"] for fold in results["folds"]] == [["OAF"], ["YAF"]]
    for k, speaker in enumerate(("OAF", "YAF")):
        split = read_json(output / f"fold_{k}" / "split.json")
        assert split["splits"]["train"]["speakers"] == [{"OAF": "YAF", "YAF": "OAF"}[speaker]]
        _, rows = predictions_table(output / f"fold_{k}")
        assert {row["speaker"] for row in rows} == {speaker} and len(rows) == 15
    assert "# Cross-validation on TESS (2 folds)" in (output / "README.md").read_text()
