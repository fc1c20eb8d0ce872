"""One answer per clip: the installed ser-predict, and EmotionClassifier, give every test file of a
trained run the probabilities its test_predictions.csv holds, and the voice-activity detector
silences none of them. Only a recording longer than the training crop is cut into windows.

Before, predict cut every clip longer than the median training clip into windows and averaged
them, so files the evaluation scored got another answer (labels flipped on a barely trained
model), and the detector could answer `no speech` for a clip the evaluation had scored."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile
from training_helpers import predictions_table, run_command, train_command

from training.inference import EmotionClassifier
from training.inference.audio_io import load_audio

BIN = Path(sys.executable).parent
# The tiny preset's crop (configs/training/tiny.yaml): the longest clip scored whole.
CROP_SECONDS = 3.0
# test_predictions.csv prints 6 decimals: rounding alone moves a value by 5e-7.
TOLERANCE = 1e-6


@pytest.fixture(scope="module")
def run(checkpoint, sample_data_dir, train_cache, tmp_path_factory) -> Path:
    """A barely trained run (one epoch): its answers are close calls, where windows flipped
    labels."""
    output = tmp_path_factory.mktemp("evaluated") / "run"
    run_command(
        train_command(
            checkpoint, output, "--data_dir", str(sample_data_dir), "--cache_dir",
            str(train_cache), "--num_train_epochs", "1", "--vocal_channel", "speech",
        ),
        timeout=1800,  # one epoch takes seconds alone, minutes on a shared 2-core machine
    )  # fmt: skip
    return output


@pytest.fixture(scope="module")
def test_files(run, sample_data_dir) -> dict[Path, dict[str, float]]:
    """{test file's path: its probabilities in test_predictions.csv}."""
    fields, rows = predictions_table(run)
    labels = [name.removeprefix("prob_") for name in fields if name.startswith("prob_")]
    paths = {path.name: path for path in sample_data_dir.rglob("*.wav")}
    return {paths[row["file"]]: {x: float(row[f"prob_{x}"]) for x in labels} for row in rows}


def _assert_equal(got: dict, expected: dict, name: str) -> None:
    assert got["emotion"] == max(expected, key=expected.get), name
    difference = max(abs(got["probabilities"][label] - p) for label, p in expected.items())
    assert difference <= TOLERANCE, (name, difference)


def test_installed_ser_predict_equals_test_predictions_on_every_test_file(
    run, test_files, tmp_path
):
    result_path = tmp_path / "predictions.json"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    completed = subprocess.run(
        [str(BIN / "ser-predict"), "--model_dir", str(run), "--device", "cpu", "--json",
         str(result_path), *map(str, test_files)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr[-3000:]
    results = {r["file"]: r for r in json.loads(result_path.read_text())["results"]}
    assert len(results) == len(test_files) >= 8
    for path, expected in test_files.items():
        got = results[str(path)]
        # The voice-activity detector heard every test file: none is `no speech`.
        assert got["speech_share"] > 0, path.name
        assert got["scored"] == "whole" and got["duration_seconds"] <= CROP_SECONDS
        _assert_equal(got, expected, path.name)


def test_classifier_equals_test_predictions_for_files_and_arrays_in_one_batch(run, test_files):
    classifier = EmotionClassifier.from_pretrained(run, device="cpu", batch_size=3)
    assert classifier.trained_seconds == CROP_SECONDS
    paths = list(test_files)
    arrays, rates = zip(*(soundfile.read(p, dtype="float32") for p in paths), strict=True)
    assert len(set(rates)) == 1
    # One list of clips of many lengths, batched three at a time: each its own answer.
    batch = classifier.classify(list(arrays), sampling_rate=rates[0])
    for path, from_array in zip(paths, batch, strict=True):
        _assert_equal(from_array, test_files[path], path.name)
        _assert_equal(classifier.classify_file(path), test_files[path], path.name)
        assert json.loads(json.dumps(from_array)) == from_array  # plain JSON types


def test_only_a_recording_longer_than_the_crop_is_cut_into_windows(run, test_files, tmp_path):
    classifier = EmotionClassifier.from_pretrained(run, device="cpu")
    path = next(iter(test_files))
    samples, rate = soundfile.read(path, dtype="float32")
    repeats = int(np.ceil(CROP_SECONDS * rate / len(samples))) + 1
    long = tmp_path / "long.wav"
    soundfile.write(long, np.tile(samples, repeats), rate)
    # Without the detector every window counts: the answer is the mean over all of them.
    answer = classifier.classify_file(long, vad="none")
    assert answer["scored"] == "windows" and answer["duration_seconds"] > CROP_SECONDS
    windows = classifier.timeline(long, vad="none")["timeline"]["windows"]
    assert answer["windows"] == len(windows) >= 3
    mean = np.mean([[w["probabilities"][x] for x in classifier.labels] for w in windows], axis=0)
    got = [answer["probabilities"][x] for x in classifier.labels]
    np.testing.assert_allclose(got, mean, atol=1e-6)
    whole = classifier.probabilities([load_audio(long, classifier.decode_settings)])[0]
    assert np.abs(np.asarray(got) - whole).max() > 1e-4  # not what the whole clip gets
