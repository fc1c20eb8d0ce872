"""The training script end to end on the offline sample, through its real command lines."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch
import yaml
from pipeline_helpers import Request, pipeline_replies
from training_helpers import predictions_table, read_json, run_command, train_command
from transformers import TrainingArguments

from data_scripts.corpora.ravdess.facts import EMOTIONS

RESULT_FILES = (
    "train_results.json",
    "eval_results.json",
    "test_results.json",
    "all_results.json",
    "split.json",
    "run_info.json",
    "confusion_matrix.png",
    "training_curves.png",
    "README.md",
    "config.json",
    "model.safetensors",
    "preprocessor_config.json",
    "validation_predictions.csv",
    "calibration.json",
    "reliability_diagram.png",
)


# What the real presets do (configs/training/{small,medium,full}.yaml): weighted layers, and a
# random crop of training clips longer than max_train_seconds (the sample's clips are 1-1.6 s).
PRESET_SETTINGS = ("--pooling", "weighted_layers", "--max_train_seconds", "1.2")


@pytest.fixture(scope="session")
def trained(checkpoint, sample_data_dir, train_cache, tmp_path_factory) -> Path:
    """One full run through the original interface: `python training/wav2vec2_classification.py`,
    with the presets' settings."""
    output_dir = tmp_path_factory.mktemp("run") / "model"
    run_command(
        train_command(
            checkpoint, output_dir,
            "--data_dir", str(sample_data_dir), "--cache_dir", str(train_cache),
            "--num_train_epochs", "8", "--report_to", "tensorboard", *PRESET_SETTINGS,
        )
    )  # fmt: skip
    return output_dir


@pytest.fixture(scope="module")
def witness(trained, sample_data_dir) -> dict:
    """Plain transformers on the saved model, from one process without the project: `pipeline`
    on every file of the test table one clip at a time ("answers"), the labels as
    AutoModelForAudioClassification loads them and pipeline on a bare array ("tone"); the tests
    below each judge their part."""
    _, rows = predictions_table(trained)
    paths = {path.name: path for path in sample_data_dir.rglob("*.wav")}
    files = [paths[row["file"]] for row in rows]
    return pipeline_replies([Request(trained, files, bare_tone=True)])[0]


def test_run_writes_every_result_file(trained):
    missing = [name for name in RESULT_FILES if not (trained / name).is_file()]
    assert not missing


def test_classifier_learns_on_held_out_speakers(trained):
    split = read_json(trained / "split.json")
    actors = {name: set(part["speakers"]) for name, part in split["splits"].items()}
    assert actors["train"] and actors["validation"] and actors["test"]
    assert not actors["train"] & actors["test"]
    assert not actors["train"] & actors["validation"]
    assert not actors["validation"] & actors["test"]
    test = read_json(trained / "test_results.json")
    # The seeded run reaches 0.61 accuracy and 0.55 UAR on its held-out actor (chance 0.125);
    # these bounds fail a run that learns half as well.
    assert test["test_accuracy"] >= 0.45, test
    assert test["test_uar"] >= 0.40, test


# What the seeded `trained` run reaches, judged by `pipeline` one held-out clip at a time
# (measured on the fixed code). The bounds are 0.8x of it: a run that learns 25 % less
# fails, and so do the drops batch-dependent training once caused (0.61 -> 0.40 accuracy).
# Measured, never derived from the code under test.
MEASURED_PIPELINE_ACCURACY = 0.606  # 63 of 104 clips, speech and song
MEASURED_PIPELINE_UAR = 0.547


def test_saved_model_learns_judged_by_pipeline_on_held_out_speakers(
    trained, sample_data_dir, witness
):
    _, rows = predictions_table(trained)
    files = {Path(r["file"]).name: r["true_emotion"] for r in rows}
    paths = [p for p in sample_data_dir.rglob("*.wav") if p.name in files]
    assert len(paths) == len(files) >= 50
    answers = {str(path): witness["answers"][str(path)] for path in paths}
    truth = [files[Path(path).name] for path in answers]
    predicted = [max(scores, key=scores.get) for scores in answers.values()]
    accuracy, uar, _ = _scores_by_hand(truth, predicted)
    print(f"pipeline accuracy {accuracy:.3f} UAR {uar:.3f} on {len(truth)} held-out clips")
    assert accuracy >= 0.8 * MEASURED_PIPELINE_ACCURACY, (accuracy, uar)
    assert uar >= 0.8 * MEASURED_PIPELINE_UAR, (accuracy, uar)


def test_test_metrics_agree_with_their_confusion_matrix(trained):
    test = read_json(trained / "test_results.json")
    matrix = np.array(test["test_confusion_matrix"])
    assert matrix.shape == (len(EMOTIONS), len(EMOTIONS))
    assert matrix.sum() == test["test_samples"]
    assert test["test_accuracy"] == pytest.approx(np.trace(matrix) / matrix.sum())
    recalls = np.diag(matrix) / matrix.sum(axis=1)
    assert test["test_uar"] == pytest.approx(np.nanmean(recalls))
    # Broken down by vocal channel and intensity; the parts add up to the whole.
    assert test["test_speech_count"] + test["test_song_count"] == test["test_samples"]
    assert test["test_normal_count"] + test["test_strong_count"] == test["test_samples"]


# RAVDESS's file-name codes, written out by hand (not imported from the code under test).
CHANNEL_CODES = {"01": "speech", "02": "song"}
EMOTION_CODES = {
    "01": "neutral", "02": "calm", "03": "happy", "04": "sad",
    "05": "angry", "06": "fearful", "07": "disgust", "08": "surprised",
}  # fmt: skip
INTENSITY_CODES = {"01": "normal", "02": "strong"}
PREDICTION_COLUMNS = [
    "file", "actor", "gender", "vocal_channel", "intensity", "statement", "repetition",
    "true_emotion", "predicted_emotion", *(f"prob_{name}" for name in EMOTIONS),
]  # fmt: skip


def _decode_by_hand(file_name: str) -> dict:
    _, channel, emotion, intensity, statement, repetition, actor = file_name[:-4].split("-")
    return {
        "vocal_channel": CHANNEL_CODES[channel],
        "emotion": EMOTION_CODES[emotion],
        "intensity": INTENSITY_CODES[intensity],
        "statement": str(int(statement)),
        "repetition": str(int(repetition)),
        "actor": str(int(actor)),
        "gender": "male" if int(actor) % 2 else "female",
    }


def _scores_by_hand(true: list[str], predicted: list[str]) -> tuple[float, float, float]:
    """Accuracy, UAR and macro-F1 over the emotions that occur in `true`."""
    pairs = list(zip(true, predicted, strict=True))
    accuracy = sum(t == p for t, p in pairs) / len(pairs)
    recalls, f1s = [], []
    for emotion in sorted(set(true)):
        hits = sum(t == p == emotion for t, p in pairs)
        recall = hits / sum(t == emotion for t in true)
        said = sum(p == emotion for p in predicted)
        precision = hits / said if said else 0.0
        recalls.append(recall)
        f1s.append(2 * precision * recall / (precision + recall) if hits else 0.0)
    return accuracy, sum(recalls) / len(recalls), sum(f1s) / len(f1s)


def test_every_breakdown_recomputes_from_the_per_file_table(trained):
    columns, rows = predictions_table(trained)
    assert columns == PREDICTION_COLUMNS
    split = read_json(trained / "split.json")["splits"]["test"]
    assert sorted(row["file"] for row in rows) == sorted(split["files"])
    for row in rows:
        fields = _decode_by_hand(row["file"])
        assert {k: row[k] for k in fields if k != "emotion"} == {
            k: v for k, v in fields.items() if k != "emotion"
        }
        assert row["true_emotion"] == fields["emotion"]
        probabilities = {name: float(row[f"prob_{name}"]) for name in EMOTIONS}
        assert sum(probabilities.values()) == pytest.approx(1.0, abs=1e-4)
        assert row["predicted_emotion"] == max(probabilities, key=probabilities.get)
    test = read_json(trained / "test_results.json")
    assert test["test_samples"] == len(rows)
    groups = {"": rows}
    for field in ("vocal_channel", "intensity"):
        for row in rows:
            groups.setdefault(_decode_by_hand(row["file"])[field] + "_", []).append(row)
    assert set(groups) == {"", "speech_", "song_", "normal_", "strong_"}
    for prefix, part in groups.items():
        accuracy, uar, macro_f1 = _scores_by_hand(
            [_decode_by_hand(r["file"])["emotion"] for r in part],
            [r["predicted_emotion"] for r in part],
        )
        assert test[f"test_{prefix}accuracy"] == pytest.approx(accuracy), prefix
        assert test[f"test_{prefix}uar"] == pytest.approx(uar), prefix
        assert test[f"test_{prefix}macro_f1"] == pytest.approx(macro_f1), prefix
        if prefix:
            assert test[f"test_{prefix}count"] == len(part)


def test_reported_test_numbers_are_what_pipeline_gives_one_clip_at_a_time(
    trained, sample_data_dir, witness
):
    """Plain `pipeline` on the saved model and the test files, in a process without the project."""
    _, rows = predictions_table(trained)
    paths = {path.name: path for path in sample_data_dir.rglob("*.wav")}
    files = [paths[row["file"]] for row in rows]
    reference = witness["answers"]
    answers = []
    for row, path in zip(rows, files, strict=True):
        expected = reference[str(path)]
        answers.append(max(expected, key=expected.get))
        assert row["predicted_emotion"] == answers[-1], row["file"]
        for name in EMOTIONS:
            assert float(row[f"prob_{name}"]) == pytest.approx(expected[name], abs=1e-4)
    accuracy, uar, macro_f1 = _scores_by_hand([r["true_emotion"] for r in rows], answers)
    test = read_json(trained / "test_results.json")
    assert test["test_accuracy"] == pytest.approx(accuracy)
    assert test["test_uar"] == pytest.approx(uar)
    assert test["test_macro_f1"] == pytest.approx(macro_f1)
    card = (trained / "README.md").read_text()
    metrics = yaml.safe_load(card.split("---")[1])["model-index"][0]["results"][0]["metrics"]
    card_values = {m["type"]: m["value"] for m in metrics}
    assert card_values["accuracy"] == pytest.approx(accuracy, abs=1e-4)
    assert card_values["f1"] == pytest.approx(macro_f1, abs=1e-4)


def test_trainer_evaluation_does_not_depend_on_the_batch(trained, sample_data_dir, train_cache):
    """The saved model evaluated one clip per batch gives the run's (batch 32) probabilities."""
    from transformers import AutoModelForAudioClassification

    from training.arguments import DataArguments
    from training.data.batching import AudioClassificationCollator, model_view
    from training.data.loading import load_prepared_dataset, split_for_training
    from training.model.model_builder import build_feature_extractor
    from training.trainer.emotion_trainer import EmotionTrainer

    data_args = DataArguments(data_dir=str(sample_data_dir), cache_dir=str(train_cache))
    dataset, record = load_prepared_dataset(data_args)
    test = split_for_training(dataset, data_args, record)[0]["test"]
    extractor, _ = build_feature_extractor(str(trained))
    _, rows = predictions_table(trained)
    assert [row["file"] for row in rows] == test["file"]
    from_run = np.array([[float(r[f"prob_{name}"]) for name in EMOTIONS] for r in rows])
    for batch_size in (1, 5):
        trainer = EmotionTrainer(
            model=AutoModelForAudioClassification.from_pretrained(trained),
            args=TrainingArguments(
                output_dir=str(trained.parent / "eval"), per_device_eval_batch_size=batch_size,
                use_cpu=True, report_to="none", remove_unused_columns=False,
                train_sampling_strategy="group_by_length", length_column_name="length",
            ),
            data_collator=AudioClassificationCollator(extractor),
        )  # fmt: skip
        prediction = trainer.predict_in_order(model_view(test), test["label"])
        logits = torch.from_numpy(np.asarray(prediction.predictions)).float()
        probabilities = torch.softmax(logits, dim=-1).numpy()
        np.testing.assert_allclose(probabilities, from_run, atol=1e-4)
        assert (probabilities.argmax(-1) == from_run.argmax(-1)).all()


def test_best_checkpoint_is_chosen_by_validation_uar(trained):
    state = read_json(trained / "trainer_state.json")
    best = state["best_metric"]
    uars = [entry["eval_uar"] for entry in state["log_history"] if "eval_uar" in entry]
    assert len(uars) == 8
    assert best == pytest.approx(max(uars))
    assert read_json(trained / "eval_results.json")["eval_uar"] == pytest.approx(best)


def test_tensorboard_logs_hold_the_validation_curves(trained):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    (log_dir,) = {path.parent for path in trained.glob("runs/*/events.out.tfevents.*")}
    events = EventAccumulator(str(log_dir))
    events.Reload()
    uar = [scalar.value for scalar in events.Scalars("eval/uar")]
    state = read_json(trained / "trainer_state.json")
    logged = [entry["eval_uar"] for entry in state["log_history"] if "eval_uar" in entry]
    assert len(logged) == 8
    # One point per epoch, then the best model's final evaluation.
    assert uar[: len(logged)] == pytest.approx(logged)
    assert uar[-1] == pytest.approx(state["best_metric"])
    assert "train/loss" in events.Tags()["scalars"]


def test_run_info_records_processes_precision_and_command(trained):
    info = read_json(trained / "run_info.json")
    assert info["world_size"] == 1
    assert info["precision"] == "fp32"
    assert info["device"] == "cpu"
    assert "--train_config" in info["command"]
    assert info["versions"]["transformers"]
    assert [(p["rank"], p["world_size"]) for p in info["processes"]] == [(0, 1)]
    # The stand-in checkpoint has no preprocessor_config.json: the defaults are named as such.
    assert info["feature_extractor"]["source"] == "defaults"
    assert info["feature_extractor"]["return_attention_mask"] is True


def test_saved_model_loads_with_pipeline_in_a_process_without_the_project(witness):
    """Users load the result with plain transformers; nothing of ours may be needed."""
    assert sorted(witness["labels"].values()) == sorted(EMOTIONS)
    assert sorted(s["label"] for s in witness["tone"]) == sorted(EMOTIONS)
    assert sum(s["score"] for s in witness["tone"]) == pytest.approx(1.0, abs=1e-4)


def test_saved_model_records_how_its_training_audio_was_decoded(trained):
    """Predict reads these back (data/test_audio_decoding.py checks that it decodes with them)."""
    preprocessor = read_json(trained / "preprocessor_config.json")
    assert preprocessor["audio_decoding"] == {
        "target_sampling_rate": 16000,
        "lowpass_filter_width": 6,
        "rolloff": 0.99,
        "resampling_method": "sinc_interp_hann",
    }
    assert preprocessor["sampling_rate"] == 16000


def test_saved_model_records_its_training_clip_lengths(trained, sample_data_dir):
    """Predict's default windows come from these (tests/inference/test_timeline.py); the median is
    recomputed here from the training files' headers."""
    train_files = set(read_json(trained / "split.json")["splits"]["train"]["files"])
    paths = [p for p in sample_data_dir.rglob("*.wav") if p.name in train_files]
    assert len(paths) == len(train_files)
    durations = [soundfile.info(str(p)).duration for p in paths]
    recorded = read_json(trained / "preprocessor_config.json")["training_clip_seconds"]
    assert recorded["max_train_seconds"] == 1.2
    assert recorded["median_seconds"] == pytest.approx(float(np.median(durations)), abs=2e-3)
    # Without a crop, clips up to the longest training clip are scored whole by predict.
    assert recorded["longest_seconds"] == pytest.approx(max(durations), abs=2e-3)


def _ece_by_hand(rows: list[dict]) -> float:
    """15 equal-width bins of the top probability, written out here (not the project's code)."""
    bins: dict[int, list[tuple[float, bool]]] = {}
    for row in rows:
        top = max(float(row[f"prob_{name}"]) for name in EMOTIONS)
        index = min(max(int(np.ceil(top * 15)) - 1, 0), 14)
        bins.setdefault(index, []).append((top, row["true_emotion"] == row["predicted_emotion"]))
    gaps = [
        len(members) * abs(np.mean([r for _, r in members]) - np.mean([t for t, _ in members]))
        for members in bins.values()
    ]
    return float(sum(gaps) / len(rows))


def test_intervals_and_calibration_recompute_from_the_saved_tables(trained):
    """The saved (calibrated) model's numbers: intervals beside every headline metric, and
    ECE of both per-file tables, by hand."""
    test = read_json(trained / "test_results.json")
    _, rows = predictions_table(trained)
    intervals = test["test_intervals"]
    assert (intervals["resamples"], intervals["seed"], intervals["unit"]) == (1000, 0, "speaker")
    assert intervals["files"] == len(rows)
    assert intervals["speakers"] == len({row["actor"] for row in rows})
    for name in ("accuracy", "uar", "macro_f1"):
        entry = intervals["metrics"][name]
        assert entry["value"] == pytest.approx(test[f"test_{name}"])
        assert entry["low"] <= entry["value"] <= entry["high"]
    assert test["test_ece"] == pytest.approx(_ece_by_hand(rows), abs=1e-5)
    with open(trained / "validation_predictions.csv", newline="") as handle:
        validation = list(csv.DictReader(handle))
    evaluation = read_json(trained / "eval_results.json")
    assert len(validation) == evaluation["eval_intervals"]["files"]
    assert evaluation["eval_ece"] == pytest.approx(_ece_by_hand(validation), abs=1e-5)
    right = np.mean([r["true_emotion"] == r["predicted_emotion"] for r in validation])
    assert evaluation["eval_accuracy"] == pytest.approx(right)
    calibration = read_json(trained / "calibration.json")
    assert calibration["temperature"] > 0
    # T minimises validation log loss: folding it in never makes that loss worse.
    after, before = calibration["validation"]["after"], calibration["validation"]["before"]
    assert after["log_loss"] <= before["log_loss"] + 1e-9
    assert evaluation["eval_log_loss"] == pytest.approx(after["log_loss"])
    card = (trained / "README.md").read_text()
    for heading in ("How sure these numbers are", "## Calibration", "What the split guarantees",
                    "Abstention: accuracy against coverage", "Resolution:"):  # fmt: skip
        assert heading in card, heading
    assert "RAVDESS's two statements, by design" in card
