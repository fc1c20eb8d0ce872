"""`predict --timeline` on a long recording assembled from clips of known emotions with silences
between them, at 22.05 kHz stereo: window probabilities equal `pipeline` on the window's samples,
silence is `silence`, segments start and end near the clips' edges."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch
import torchaudio
from model_helpers import save_tiny_classifier
from pipeline_helpers import pipeline_probabilities
from training_helpers import REPO, run_env

from data_scripts.corpora.ravdess.facts import EMOTIONS
from data_scripts.corpora.ravdess.sample_archives import SOURCE_SAMPLING_RATE, synthesize
from training.inference.predict import main, predict_files
from training.inference.timeline import SILENCE, smoothed_labels

FILE_RATE, MODEL_RATE = 22_050, 16_000
# (what, seconds): silence, an angry clip, silence, a happy clip, silence. Silero hears these
# two synthetic voices as speech throughout, wherever its 4 s lanes start (checked for lane
# starts every 0.5 s); it misses parts of some other synthetic voices (BENCHMARKS.md).
LAYOUT = (
    (None, 1.5),
    ("03-01-05-02-01-01-01.wav", 3.0),
    (None, 2.0),
    ("03-01-03-02-01-01-05.wav", 3.0),
    (None, 1.5),
)
# The synthetic voice is silent for its first 0.15 s and last 0.2 s (sample_archives).
VOICE_ONSET, VOICE_OFFSET = 0.15, 0.2


def _clip(name: str, seconds: float) -> np.ndarray:
    voice = synthesize(name, (seconds, seconds))
    voice = voice if voice.ndim == 1 else voice.mean(axis=1)
    return torchaudio.functional.resample(
        torch.from_numpy(voice), SOURCE_SAMPLING_RATE, FILE_RATE
    ).numpy()


@pytest.fixture(scope="module")
def recording(tmp_path_factory) -> tuple[Path, list[tuple[float, float]]]:
    """The long file and the (start, end) seconds of each clip's voiced part."""
    parts, voiced, now = [], [], 0.0
    for name, seconds in LAYOUT:
        part = (
            np.zeros(int(seconds * FILE_RATE), np.float32) if name is None else _clip(name, seconds)
        )
        if name is not None:
            voiced.append((now + VOICE_ONSET, now + len(part) / FILE_RATE - VOICE_OFFSET))
        parts.append(part)
        now += len(part) / FILE_RATE
    mono = np.concatenate(parts)
    path = tmp_path_factory.mktemp("long") / "interview.wav"
    soundfile.write(path, np.stack([mono, 0.8 * mono], axis=1), FILE_RATE, subtype="PCM_16")
    return path, voiced


@pytest.fixture(scope="module")
def weighted_model(tmp_path_factory) -> Path:
    """A tiny random classifier as the presets build it: group norm, weighted layers."""
    torch.manual_seed(3)
    return save_tiny_classifier(
        tmp_path_factory.mktemp("weighted"),
        feat_extract_norm="group",
        use_weighted_layer_sum=True,
        initializer_range=0.5,
    )


@pytest.fixture(scope="module")
def angry_model(tmp_path_factory, weighted_model) -> Path:
    """The same model with its classifier set by hand to say `angry` whatever it hears."""
    from transformers import Wav2Vec2ForSequenceClassification

    model = Wav2Vec2ForSequenceClassification.from_pretrained(weighted_model)
    with torch.no_grad():
        model.classifier.weight.zero_()
        model.classifier.bias.copy_(torch.tensor([3.0 if e == "angry" else 0.0 for e in EMOTIONS]))
    directory = tmp_path_factory.mktemp("angry")
    model.save_pretrained(directory)
    (directory / "preprocessor_config.json").write_text(
        (weighted_model / "preprocessor_config.json").read_text()
    )
    return directory


def _reference_samples(path: Path) -> np.ndarray:
    """The whole file decoded without the project: soundfile, channel mean, torchaudio."""
    samples, rate = soundfile.read(path, dtype="float32", always_2d=True)
    mono = torch.from_numpy(samples.mean(axis=1))
    return torchaudio.functional.resample(mono, rate, MODEL_RATE).numpy()


def test_window_probabilities_equal_pipeline_and_silence_is_silence(
    recording, weighted_model, tmp_path
):
    path, voiced = recording
    json_path, csv_path = tmp_path / "out.json", tmp_path / "timeline.csv"
    command = [sys.executable, "-m", "training.inference.predict", "--model_dir",
               str(weighted_model), "--device", "cpu", str(path), "--timeline",
               "--window_seconds", "1.0", "--hop_seconds", "0.5", "--batch_size", "4",
               "--json", str(json_path), "--csv_timeline", str(csv_path),
               "--timeline_png", str(tmp_path / "png")]  # fmt: skip
    completed = subprocess.run(
        command, cwd=REPO, env=run_env(), capture_output=True, text=True, timeout=300
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    (result,) = json.loads(json_path.read_text())["results"]
    windows = result["timeline"]["windows"]
    assert len(windows) == 21  # 11 s, 1 s windows every 0.5 s
    assert (result["timeline"]["window_seconds"], result["timeline"]["hop_seconds"]) == (1.0, 0.5)
    assert "windows of 1.00 s every 0.50 s (from --window_seconds)" in completed.stderr
    inside = [w for w in windows if any(a <= w["start_s"] and w["end_s"] <= b for a, b in voiced)]
    quiet = [w for w in windows if all(w["end_s"] <= a or w["start_s"] >= b for a, b in voiced)]
    assert len(inside) >= 6 and len(quiet) >= 4
    assert all(w["emotion"] == SILENCE and w["probabilities"] is None for w in quiet)
    # Every window inside a clip against `pipeline` on that window's samples (no project code).
    samples = _reference_samples(path)
    files = []
    for index, window in enumerate(inside):
        start = round(window["start_s"] * MODEL_RATE)
        files.append(tmp_path / f"window_{index}.wav")
        soundfile.write(files[-1], samples[start : start + MODEL_RATE], MODEL_RATE, "FLOAT")
    reference = pipeline_probabilities(weighted_model, files)
    for window, file in zip(inside, files, strict=True):
        expected = [reference[str(file)][label] for label in EMOTIONS]
        got = [window["probabilities"][label] for label in EMOTIONS]
        np.testing.assert_allclose(got, expected, atol=1e-4)
    # The file's answer is the mean over its speech windows, and says how many.
    speech = [w for w in windows if w["probabilities"] is not None]
    assert result["windows"] == len(speech) and result["silence_windows"] == 21 - len(speech)
    mean = np.mean([[w["probabilities"][e] for e in EMOTIONS] for w in speech], axis=0)
    np.testing.assert_allclose([result["probabilities"][e] for e in EMOTIONS], mean, atol=1e-6)
    # The CSV holds the same windows.
    with open(csv_path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["emotion"] for r in rows] == [w["emotion"] for w in windows]
    assert all(r["file"] == str(path) for r in rows)
    for row, window in zip(rows, windows, strict=True):
        assert float(row["start_s"]) == pytest.approx(window["start_s"], abs=1e-3)
        if window["probabilities"]:
            assert float(row["prob_angry"]) == pytest.approx(
                window["probabilities"]["angry"], abs=1e-6
            )
        else:
            assert row["prob_angry"] == "" and row["probability"] == ""
    assert (tmp_path / "png" / "interview.wav.timeline.png").read_bytes()[:4] == b"\x89PNG"


def test_segments_start_and_end_within_one_hop_of_the_clips(recording, angry_model):
    path, voiced = recording
    hop = 0.25
    (result,), failures = predict_files(
        angry_model, [path], window_seconds=1.0, hop_seconds=hop, device="cpu"
    )
    assert not failures
    segments = result["timeline"]["segments"]
    assert [s["emotion"] for s in segments] == [SILENCE, "angry", SILENCE, "angry", SILENCE]
    assert segments[0]["start_s"] == 0 and segments[-1]["end_s"] == pytest.approx(11.0, abs=1e-3)
    for segment, (start, end) in zip(segments[1::2], voiced, strict=True):
        assert abs(segment["start_s"] - start) <= hop, (segment, start)
        assert abs(segment["end_s"] - end) <= hop, (segment, end)
        assert segment["probability"] > 0.5
    for before, after in zip(segments, segments[1:], strict=False):
        assert before["end_s"] == after["start_s"]  # segments tile the file


def test_median_smoothing_removes_a_one_window_flip():
    labels = ["happy", "sad"]

    def row(happy: float) -> dict:
        return {"probabilities": {"happy": happy, "sad": 1 - happy},
                "emotion": "happy" if happy > 0.5 else "sad"}  # fmt: skip

    rows = [row(0.8), row(0.7), row(0.2), row(0.9), row(0.6)]
    silence = {"probabilities": None, "emotion": SILENCE}
    assert smoothed_labels(rows, labels, 1) == ["happy", "happy", "sad", "happy", "happy"]
    assert smoothed_labels(rows, labels, 3) == ["happy"] * 5
    # Silence bounds the median: the lone sad window after it stays sad.
    assert smoothed_labels([row(0.9), silence, row(0.1), row(0.2)], labels, 3) == [
        "happy", SILENCE, "sad", "sad"
    ]  # fmt: skip


def test_short_exact_silent_truncated_and_mp3_files_each_get_an_answer(
    recording, weighted_model, tmp_path, capsys
):
    path, _ = recording
    voice, rate = soundfile.read(path, dtype="float32")
    angry = voice[int(1.7 * rate) : int(4.2 * rate), 0]
    folder = tmp_path / "files"
    folder.mkdir()
    soundfile.write(folder / "half_second.wav", angry[: rate // 2], rate)
    soundfile.write(folder / "one_window.wav", angry[:rate], rate)
    soundfile.write(folder / "silence.wav", np.zeros(3 * rate, np.float32), rate)
    soundfile.write(folder / "cut.wav", angry, rate, subtype="PCM_16")
    data = (folder / "cut.wav").read_bytes()
    (folder / "cut.wav").write_bytes(data[: len(data) // 2])
    if "MP3" in soundfile.available_formats():
        soundfile.write(folder / "clip.mp3", angry, rate, format="MP3")
    json_path = tmp_path / "out.json"
    code = main(["--model_dir", str(weighted_model), "--device", "cpu", str(folder),
                 "--window_seconds", "1.0", "--hop_seconds", "0.5",
                 "--json", str(json_path)])  # fmt: skip
    assert code == 1
    err = capsys.readouterr().err
    assert f"FAILED {folder / 'cut.wav'}: truncated: header declares" in err
    results = {Path(r["file"]).name: r for r in json.loads(json_path.read_text())["results"]}
    assert results["silence.wav"]["emotion"] == "no speech"
    assert results["silence.wav"]["windows"] == 0 and results["silence.wav"]["probability"] is None
    assert results["one_window.wav"]["windows"] + results["one_window.wav"]["silence_windows"] == 1
    assert results["half_second.wav"]["duration_seconds"] == pytest.approx(0.5, abs=1e-3)
    for name in ("half_second.wav", "one_window.wav", "clip.mp3"):
        if name in results and results[name]["emotion"] != "no speech":
            assert sum(results[name]["probabilities"].values()) == pytest.approx(1, abs=1e-5)
    if "MP3" in soundfile.available_formats():
        assert results["clip.mp3"]["emotion"] in (*EMOTIONS, "no speech")


@pytest.mark.parametrize(
    ("facts", "window", "second_start", "said"),
    [
        # The hop is the window: the second window starts where the first ends.
        ({"max_train_seconds": 6.0, "median_seconds": 2.0}, 2.0, 2.0, "median training clip"),
        ({"max_train_seconds": 1.5, "median_seconds": 3.7}, 1.5, 1.5, "max_train_seconds 1.5"),
        # 11 s: windows at 0 and 3 s (the last one ends at the file's end; the hop is 4 s).
        (None, 8.0, 3.0, "does not record the training clips' length"),
    ],
)
def test_default_windows_follow_the_training_clips_the_model_records(
    recording, weighted_model, tmp_path, caplog, facts, window, second_start, said
):
    path, _ = recording
    model = tmp_path / "model"
    model.mkdir()
    for name in ("config.json", "model.safetensors"):
        (model / name).write_bytes((weighted_model / name).read_bytes())
    preprocessor = json.loads((weighted_model / "preprocessor_config.json").read_text())
    if facts:
        preprocessor["training_clip_seconds"] = facts
    (model / "preprocessor_config.json").write_text(json.dumps(preprocessor))
    caplog.set_level("INFO")
    (result,), _ = predict_files(model, [path], device="cpu", vad="none")
    windows = result["timeline"]["windows"]
    assert {round(w["end_s"] - w["start_s"], 3) for w in windows} == {window}
    assert windows[1]["start_s"] == pytest.approx(second_start)
    assert said in caplog.text
