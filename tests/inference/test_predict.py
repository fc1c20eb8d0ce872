"""training.inference.predict: a tiny random wav2vec2 classifier on real audio of many kinds."""

from __future__ import annotations

import csv
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch
import torchaudio
from model_helpers import save_tiny_classifier
from pipeline_helpers import Request, pipeline_answers
from transformers import (
    Wav2Vec2FeatureExtractor,
    Wav2Vec2ForSequenceClassification,
)

from data_scripts.common.audio_decoding import DecodeSettings
from data_scripts.corpora.ravdess.facts import EMOTIONS
from training.inference.audio_io import load_audio
from training.inference.predict import main, predict_files, window_starts

MODEL_RATE = 16_000
REPO_ROOT = Path(__file__).resolve().parents[2]
# Short windows so that a 5.3 s clip is split without making the test slow.
WINDOW_SECONDS, HOP_SECONDS = 2.0, 0.75
LONG_SECONDS = 5.3
GOOD_FILES = ("stereo_48k.wav", "mono_22k.flac", "mono_44k.ogg", "nested/short_8k.wav", "long.wav")
BAD_FILES = ("corrupt.wav", "empty.wav", "blip.wav")


def _signal(seconds: float, rate: int, frequency: float, seed: int) -> np.ndarray:
    """A chirping tone with noise: different files give different model outputs."""
    t = np.arange(int(seconds * rate)) / rate
    noise = np.random.default_rng(seed).standard_normal(len(t))
    tone = np.sin(2 * np.pi * frequency * t * (1 + 0.3 * t)) * np.linspace(0.2, 1.0, len(t))
    return (0.5 * tone + 0.05 * noise).astype(np.float32)


def _tiny_classifier(directory: Path, norm: str) -> Path:
    torch.manual_seed(0)
    if norm == "group":
        # wav2vec2-base's extractor settings: no attention mask by default.
        return save_tiny_classifier(
            directory,
            sampling_rate=MODEL_RATE,
            return_attention_mask=False,
            feat_extract_norm="group",
            initializer_range=0.5,  # wide weights: outputs depend visibly on the input
        )
    return save_tiny_classifier(
        directory,
        sampling_rate=MODEL_RATE,
        return_attention_mask=True,
        feat_extract_norm="layer",
        do_stable_layer_norm=True,
        initializer_range=0.5,
    )


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    """Tiny random classifier with the 8 emotion names and a group-norm CNN: that of
    wav2vec2-base, HuBERT-base, WavLM-base and every preset, whose first layer normalises over
    the whole (padded) clip."""
    return _tiny_classifier(tmp_path_factory.mktemp("tiny_group_classifier"), "group")


@pytest.fixture(scope="module")
def layer_model_dir(tmp_path_factory) -> Path:
    """A tiny classifier with the large checkpoints' stable layer norm."""
    return _tiny_classifier(tmp_path_factory.mktemp("tiny_layer_classifier"), "layer")


@pytest.fixture(scope="module", params=["group", "layer"])
def any_norm_model_dir(request, model_dir, layer_model_dir) -> Path:
    """The group-norm classifier, and one with the large checkpoints' stable layer norm."""
    return model_dir if request.param == "group" else layer_model_dir


@pytest.fixture(scope="module")
def audio_dir(tmp_path_factory) -> Path:
    """Real files: stereo 48 kHz wav, flac, ogg, a nested wav, a long clip, and three bad ones."""
    directory = tmp_path_factory.mktemp("audio")
    (directory / "nested").mkdir()
    stereo = np.stack([_signal(1.5, 48_000, 300, 1), _signal(1.5, 48_000, 500, 2)], axis=1)
    soundfile.write(directory / "stereo_48k.wav", stereo, 48_000)
    soundfile.write(directory / "mono_22k.flac", _signal(1.2, 22_050, 700, 3), 22_050)
    soundfile.write(directory / "mono_44k.ogg", _signal(1.0, 44_100, 200, 4), 44_100)
    soundfile.write(directory / "nested/short_8k.wav", _signal(0.6, 8_000, 400, 5), 8_000)
    soundfile.write(directory / "long.wav", _signal(LONG_SECONDS, MODEL_RATE, 250, 6), MODEL_RATE)
    (directory / "corrupt.wav").write_bytes(np.random.default_rng(7).bytes(2000))
    soundfile.write(directory / "empty.wav", np.zeros(0, dtype=np.float32), MODEL_RATE)
    # 50 samples: fewer than the tiny encoder needs for one frame (85).
    soundfile.write(
        directory / "blip.wav", _signal(50 / MODEL_RATE, MODEL_RATE, 300, 8), MODEL_RATE
    )
    (directory / "notes.txt").write_text("not audio")
    return directory


def _reference_audio(path: Path) -> np.ndarray:
    """Decoded independently of the project: soundfile, channel mean, torchaudio resample."""
    samples, rate = soundfile.read(path, dtype="float32", always_2d=True)
    mono = torch.from_numpy(samples.mean(axis=1))
    return torchaudio.functional.resample(mono, rate, MODEL_RATE).numpy()


def _reference_probabilities(model_dir: Path, samples: np.ndarray) -> np.ndarray:
    """One unpadded forward pass of the saved model."""
    extractor = Wav2Vec2FeatureExtractor.from_pretrained(model_dir)
    model = Wav2Vec2ForSequenceClassification.from_pretrained(model_dir).eval()
    inputs = extractor(samples, sampling_rate=MODEL_RATE, return_tensors="pt")
    with torch.no_grad():
        return torch.softmax(model(**inputs).logits, dim=-1)[0].numpy()


def _by_name(results: list[dict]) -> dict[str, dict]:
    return {Path(r["file"]).name: r for r in results}


def _predict(model_dir: Path, paths, **kwargs) -> tuple[list[dict], list]:
    kwargs.setdefault("window_seconds", WINDOW_SECONDS)
    kwargs.setdefault("hop_seconds", HOP_SECONDS)
    kwargs.setdefault("vad", "none")  # chirps are not speech; these tests check the scores
    return predict_files(model_dir, paths, device="cpu", **kwargs)


def test_load_audio_downmixes_and_resamples_stereo(audio_dir):
    samples = load_audio(audio_dir / "stereo_48k.wav", DecodeSettings(MODEL_RATE))
    assert samples.dtype == np.float32 and samples.shape == (int(1.5 * MODEL_RATE),)
    np.testing.assert_allclose(samples, _reference_audio(audio_dir / "stereo_48k.wav"), atol=1e-6)


@pytest.mark.parametrize("name", ["corrupt.wav", "empty.wav"])
def test_load_audio_error_names_the_file(audio_dir, name):
    with pytest.raises(ValueError, match=re.escape(str(audio_dir / name))):
        load_audio(audio_dir / name, DecodeSettings(MODEL_RATE))


def test_window_starts_cover_the_clip_with_full_windows():
    assert window_starts(100, window=100, hop=40) == [0]
    assert window_starts(50, window=100, hop=40) == [0]
    assert window_starts(200, window=100, hop=40) == [0, 40, 80, 100]
    assert window_starts(180, window=100, hop=40) == [0, 40, 80]


def test_labels_come_from_model_and_probabilities_sum_to_one(model_dir, audio_dir):
    good = [audio_dir / name for name in GOOD_FILES]
    results, failures = _predict(model_dir, good)
    assert failures == []
    assert [Path(r["file"]).name for r in results] == [Path(n).name for n in GOOD_FILES]
    for result in results:
        assert list(result["probabilities"]) == list(EMOTIONS)
        assert sum(result["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
        best = max(result["probabilities"], key=result["probabilities"].get)
        assert result["emotion"] == best
        assert result["probability"] == result["probabilities"][best]
        top_probabilities = [p for _, p in result["top"]]
        assert len(result["top"]) == 3 and top_probabilities == sorted(top_probabilities)[::-1]


@pytest.mark.parametrize("name", ["stereo_48k.wav", "mono_22k.flac", "mono_44k.ogg"])
def test_prediction_equals_direct_forward_on_resampled_audio(model_dir, audio_dir, name):
    results, _ = _predict(model_dir, [audio_dir / name])
    expected = _reference_probabilities(model_dir, _reference_audio(audio_dir / name))
    got = np.array(list(results[0]["probabilities"].values()))
    np.testing.assert_allclose(got, expected, atol=1e-5)
    assert results[0]["windows"] == 1


def _probabilities(result: dict) -> list[float]:
    return [result["probabilities"][label] for label in EMOTIONS]


def test_batch_size_and_batch_mates_change_no_answer(any_norm_model_dir, audio_dir, tmp_path):
    """Each clip gets what it gets alone, whatever the batch size and whatever else is in it."""
    good = [audio_dir / name for name in GOOD_FILES]
    # Different batch mates: a 3.7 s noise clip pads every other clip much further.
    soundfile.write(tmp_path / "mate.wav", _signal(3.7, MODEL_RATE, 900, 11), MODEL_RATE)
    single = _by_name(_predict(any_norm_model_dir, good, batch_size=1)[0])
    for batch_size, extra in ((32, []), (3, []), (32, [tmp_path / "mate.wav"])):
        batched = _by_name(_predict(any_norm_model_dir, good + extra, batch_size=batch_size)[0])
        for name, one in single.items():
            assert batched[name]["emotion"] == one["emotion"], (name, batch_size)
            np.testing.assert_allclose(
                _probabilities(batched[name]), _probabilities(one), atol=1e-4, err_msg=name
            )


@pytest.fixture(scope="module")
def pipeline_reference(model_dir, layer_model_dir, audio_dir) -> dict[str, dict]:
    """{model folder: {path: {label: probability}}}: plain `pipeline` on both classifiers and the
    good files, one clip at a time, from one process without the project."""
    good = [audio_dir / name for name in GOOD_FILES]
    models = [model_dir, layer_model_dir]
    answers = pipeline_answers([Request(model, good) for model in models])
    return dict(zip(map(str, models), answers, strict=True))


def test_predictions_equal_pipeline_one_clip_at_a_time(
    any_norm_model_dir, audio_dir, pipeline_reference
):
    """Against plain `pipeline` in a process without the project (clips shorter than a window)."""
    good = [audio_dir / name for name in GOOD_FILES]
    results = _by_name(_predict(any_norm_model_dir, good, batch_size=32, window_seconds=30.0)[0])
    reference = pipeline_reference[str(any_norm_model_dir)]
    for path in good:
        expected = reference[str(path)]
        got = results[path.name]
        assert got["emotion"] == max(expected, key=expected.get), path.name
        np.testing.assert_allclose(
            _probabilities(got), [expected[label] for label in EMOTIONS], atol=1e-4
        )


def test_long_clip_is_mean_of_window_probabilities(model_dir, audio_dir):
    results, _ = _predict(model_dir, [audio_dir / "long.wav"])
    samples = _reference_audio(audio_dir / "long.wav")
    window = int(WINDOW_SECONDS * MODEL_RATE)
    # 84 800 samples, windows of 32 000 every 12 000, plus one ending at the clip's end.
    starts = [0, 12_000, 24_000, 36_000, 48_000, 52_800]
    windows = [_reference_probabilities(model_dir, samples[s : s + window]) for s in starts]
    assert results[0]["windows"] == len(starts)
    assert results[0]["duration_seconds"] == pytest.approx(LONG_SECONDS)
    np.testing.assert_allclose(
        list(results[0]["probabilities"].values()), np.mean(windows, axis=0), atol=1e-5
    )


def test_unreadable_files_are_reported_by_name_and_the_rest_processed(model_dir, audio_dir):
    results, failures = _predict(model_dir, [audio_dir, audio_dir / "missing.wav"])
    assert sorted(Path(r["file"]).name for r in results) == sorted(Path(n).name for n in GOOD_FILES)
    reasons = {Path(path).name: reason for path, reason in failures}
    assert set(reasons) == {*BAD_FILES, "missing.wav"}
    assert "no audio samples" in reasons["empty.wav"]
    assert "cannot decode" in reasons["corrupt.wav"]
    assert "too short for the model" in reasons["blip.wav"]


def test_cli_writes_json_and_csv_and_exits_1_when_a_file_fails(model_dir, audio_dir, tmp_path):
    json_path, csv_path = tmp_path / "out.json", tmp_path / "out.csv"
    command = [
        sys.executable,
        "-m",
        "training.inference.predict",
        "--model_dir",
        str(model_dir),
        str(audio_dir),
        "--device",
        "cpu",
        "--window_seconds",
        str(WINDOW_SECONDS),
        "--hop_seconds",
        str(HOP_SECONDS),
        "--batch_size",
        "3",
        "--vad",
        "none",
        "--json",
        str(json_path),
        "--csv",
        str(csv_path),
    ]
    completed = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert completed.returncode == 1, completed.stderr
    assert "corrupt.wav" in completed.stderr and "empty.wav" in completed.stderr
    payload = json.loads(json_path.read_text())
    in_json = _by_name(payload["results"])
    assert set(in_json) == {Path(n).name for n in GOOD_FILES}
    assert {Path(f["file"]).name for f in payload["failures"]} == set(BAD_FILES)
    for name, result in in_json.items():
        assert name in completed.stdout
        assert sum(result["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
    with open(csv_path, newline="") as handle:
        rows = {Path(row["file"]).name: row for row in csv.DictReader(handle)}
    assert set(rows) == set(in_json)
    for name, row in rows.items():
        assert row["emotion"] == in_json[name]["emotion"]
        for label in EMOTIONS:
            expected = in_json[name]["probabilities"][label]
            assert float(row[f"prob_{label}"]) == pytest.approx(expected, abs=1e-6)


def test_main_exits_0_when_every_file_succeeds(model_dir, audio_dir, capsys):
    code = main(["--model_dir", str(model_dir), "--device", "cpu", str(audio_dir / "long.wav")])
    assert code == 0
    assert "long.wav" in capsys.readouterr().out


def test_main_exits_2_without_files_or_model(model_dir, tmp_path, audio_dir):
    empty_folder = tmp_path / "nothing_here"
    empty_folder.mkdir()
    assert main(["--model_dir", str(model_dir), str(empty_folder)]) == 2
    assert main(["--model_dir", str(tmp_path / "no_model"), str(audio_dir / "long.wav")]) == 2


def test_truncated_and_empty_wavs_fail_by_name_while_the_rest_are_classified(model_dir, tmp_path):
    folder = tmp_path / "clips"
    folder.mkdir()
    soundfile.write(folder / "good.wav", _signal(1.0, 48_000, 300, 11), 48_000)
    soundfile.write(folder / "cut.wav", _signal(1.0, 48_000, 300, 12), 48_000, subtype="PCM_16")
    data = (folder / "cut.wav").read_bytes()
    (folder / "cut.wav").write_bytes(data[: len(data) - 30_000])  # 15000 of 48000 frames lost
    soundfile.write(folder / "silent.wav", np.zeros(0, dtype=np.float32), 48_000)
    damaged = _signal(1.0, 48_000, 300, 13)
    damaged[12_000] = np.nan
    soundfile.write(folder / "damaged.wav", damaged, 48_000, subtype="FLOAT")
    command = [sys.executable, "-m", "training.inference.predict", "--model_dir", str(model_dir),
               "--device", "cpu", str(folder)]  # fmt: skip

    completed = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)

    assert completed.returncode == 1, completed.stderr
    failed = sorted(line for line in completed.stderr.splitlines() if line.startswith("FAILED"))
    assert failed == [
        f"FAILED {folder / 'cut.wav'}: truncated: header declares 48000 frames, file holds 33000",
        f"FAILED {folder / 'damaged.wav'}: holds NaN or infinite samples (the first at 0.250 s): "
        "the file is damaged; export it again or leave it out",
        f"FAILED {folder / 'silent.wav'}: holds no audio samples",
    ]
    assert "good.wav" in completed.stdout and "1 classified, 3 failed" in completed.stderr
    assert "Traceback" not in completed.stderr


def test_predict_decodes_with_the_settings_saved_in_the_model(model_dir, audio_dir, tmp_path):
    """A model whose training data was resampled with another filter is fed the same filter."""
    copy = tmp_path / "model"
    shutil.copytree(model_dir, copy)
    config_path = copy / "preprocessor_config.json"
    settings = {"target_sampling_rate": MODEL_RATE, "lowpass_filter_width": 2,
                "rolloff": 0.5, "resampling_method": "sinc_interp_kaiser"}  # fmt: skip
    config_path.write_text(json.dumps({**json.loads(config_path.read_text()),
                                       "audio_decoding": settings}))  # fmt: skip
    path = audio_dir / "stereo_48k.wav"
    samples, rate = soundfile.read(path, dtype="float32", always_2d=True)
    mono = torch.from_numpy(samples.mean(axis=1))
    narrow = torchaudio.functional.resample(
        mono, rate, MODEL_RATE, lowpass_filter_width=2, rolloff=0.5,
        resampling_method="sinc_interp_kaiser",
    ).numpy()  # fmt: skip

    results, failures = _predict(copy, [path], window_seconds=10.0, hop_seconds=5.0)

    assert not failures
    got = np.array([results[0]["probabilities"][label] for label in EMOTIONS])
    expected = _reference_probabilities(copy, narrow)
    default = _reference_probabilities(copy, _reference_audio(path))
    np.testing.assert_allclose(got, expected, atol=1e-5)
    assert np.abs(expected - default).max() > 1e-3, "the settings must change the input"
