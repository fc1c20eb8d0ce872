"""EmotionClassifier on a tiny random classifier: load refusals in one line, arrays of any layout
and rate answered like files, lists answered clip by clip, and the voice-activity detector that
never silences a clip with any speech in it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch
import torchaudio
from model_helpers import save_tiny_classifier

from data_scripts.corpora.ravdess.sample_archives import SOURCE_SAMPLING_RATE, synthesize
from training.inference import EmotionClassifier
from training.inference.classifier import ClassifierLoadError

RATE = 16_000
# What training records: a 3 s crop, 1 s median clips (windows of 1 s for long recordings).
FACTS = {"max_train_seconds": 3.0, "median_seconds": 1.0, "longest_seconds": 3.6}


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    directory = save_tiny_classifier(
        tmp_path_factory.mktemp("classifier") / "model",
        return_attention_mask=True,
        feat_extract_norm="group",
        use_weighted_layer_sum=True,
        initializer_range=0.5,
    )
    config = directory / "preprocessor_config.json"
    preprocessor = json.loads(config.read_text())
    config.write_text(json.dumps({**preprocessor, "training_clip_seconds": FACTS}))
    return directory


@pytest.fixture(scope="module")
def classifier(model_dir) -> EmotionClassifier:
    return EmotionClassifier.from_pretrained(model_dir, device="cpu", batch_size=2)


def _voice(seconds: float, rate: int = RATE) -> np.ndarray:
    """A synthetic angry voice silero hears as speech (tests/inference/test_timeline.py), at `rate`."""
    voice = synthesize("03-01-05-02-01-01-01.wav", (seconds, seconds))
    voice = voice if voice.ndim == 1 else voice.mean(axis=1)
    return torchaudio.functional.resample(
        torch.from_numpy(voice), SOURCE_SAMPLING_RATE, rate
    ).numpy()


def _probabilities(answer: dict, labels: list[str]) -> np.ndarray:
    return np.array([answer["probabilities"][label] for label in labels])


def test_attributes_say_what_the_model_was_trained_on(classifier):
    assert classifier.labels[:2] == ["neutral", "calm"] and classifier.sampling_rate == RATE
    assert classifier.trained_seconds == 3.0
    assert (classifier.window_seconds, classifier.hop_seconds) == (1.0, 1.0)


def test_every_folder_that_is_no_classifier_is_refused_at_load_in_one_line(model_dir, tmp_path):
    cv = tmp_path / "cv"
    (cv / "fold_0").mkdir(parents=True)
    (cv / "fold_1").mkdir()
    unfinished = tmp_path / "run"
    (unfinished / "checkpoint-5").mkdir(parents=True)
    (tmp_path / "empty").mkdir()
    cases = [
        (tmp_path / "missing", {}, "no such folder"),
        (cv, {}, f"a cross-validation folder holds one model per fold; give one fold's folder, "
                 f"e.g. {cv / 'fold_0'}"),
        (unfinished, {}, "an unfinished training run (no config.json yet)"),
        (tmp_path / "empty", {}, "is not a model directory (no config.json)"),
        (model_dir, {"onnx_file": "model.int8.onnx"}, "needs --backend onnxruntime"),
        (model_dir, {"backend": "onnxruntime"}, "no model.onnx; create it with"),
        (model_dir, {"dtype": "float64"}, "--dtype float64: choose one of"),
    ]  # fmt: skip
    for folder, options, message in cases:
        with pytest.raises(ClassifierLoadError) as refused:
            EmotionClassifier.from_pretrained(folder, device="cpu", **options)
        assert message in str(refused.value) and "\n" not in str(refused.value), folder
    no_extractor = tmp_path / "no_extractor"
    shutil.copytree(model_dir, no_extractor)
    (no_extractor / "preprocessor_config.json").unlink()
    with pytest.raises(ClassifierLoadError, match=f"{no_extractor}: cannot load the model"):
        EmotionClassifier.from_pretrained(no_extractor, device="cpu")


def test_arrays_of_any_layout_and_rate_get_the_answer_their_file_gets(classifier, tmp_path):
    left, right = _voice(1.2, 44_100), 0.5 * _voice(1.2, 44_100)
    stereo = np.stack([left, right], axis=1)
    path = tmp_path / "stereo.wav"
    soundfile.write(path, stereo, 44_100, subtype="FLOAT")
    from_file = classifier.classify_file(path)
    labels = classifier.labels
    for layout in (stereo, stereo.T, stereo.astype(np.float64)):
        answer = classifier.classify(layout, sampling_rate=44_100)
        np.testing.assert_allclose(
            _probabilities(answer, labels), _probabilities(from_file, labels), atol=1e-6
        )
    assert from_file["scored"] == "whole" and from_file["file"] == str(path)
    # The reference: the stock model on the channel mean, resampled by torchaudio.
    mono = torchaudio.functional.resample(torch.from_numpy(stereo.mean(axis=1)), 44_100, RATE)
    expected = classifier.probabilities([mono.numpy()])[0]
    np.testing.assert_allclose(_probabilities(from_file, labels), expected, atol=1e-5)
    pcm = np.round(_voice(1.0) * 20_000).astype(np.int16)
    np.testing.assert_allclose(
        _probabilities(classifier.classify(pcm, RATE), labels),
        _probabilities(classifier.classify(pcm / np.float32(32768), RATE), labels),
        atol=1e-6,
    )


def test_a_list_gets_each_clip_its_own_answer_whatever_the_batch(classifier):
    clips = [_voice(seconds) for seconds in (0.7, 2.9, 1.4, 2.0, 0.9)]
    batch = classifier.classify(clips, sampling_rate=RATE)
    for clip, answer in zip(clips, batch, strict=True):
        alone = classifier.classify(clip, sampling_rate=RATE)
        np.testing.assert_allclose(
            _probabilities(answer, classifier.labels),
            _probabilities(alone, classifier.labels),
            atol=1e-6,
        )
    assert len({answer["emotion"] for answer in batch}) >= 1
    assert len({round(a["probability"], 6) for a in batch}) == len(clips)  # answers differ


def test_bad_arrays_are_refused_naming_the_clip(classifier):
    damaged = _voice(1.0)
    damaged[100] = np.nan
    with pytest.raises(ValueError, match="clip 1: holds NaN or infinite samples"):
        classifier.classify([_voice(1.0), damaged], sampling_rate=RATE)
    with pytest.raises(ValueError, match="give a 1-D or 2-D array"):
        classifier.classify(np.zeros((2, 2, 100), np.float32), sampling_rate=RATE)
    with pytest.raises(ValueError, match="holds no audio samples"):
        classifier.classify(np.zeros(0, np.float32), sampling_rate=RATE)
    with pytest.raises(ValueError, match="give its sampling_rate"):
        classifier.timeline(_voice(1.0))


def test_a_clip_with_little_speech_is_scored_whole_not_silenced(classifier):
    """2.5 s: 0.8 s of voice in silence. Windowed with the VAD as a gate, most of it was
    silence; scored whole, the VAD only measures it."""
    clip = np.concatenate([np.zeros(RATE, np.float32), _voice(0.8), np.zeros(RATE // 2 + 3200)])
    answer = classifier.classify(clip, sampling_rate=RATE)
    assert answer["scored"] == "whole" and 0 < answer["speech_share"] < 0.5
    expected = classifier.probabilities([clip])[0]
    np.testing.assert_allclose(_probabilities(answer, classifier.labels), expected, atol=1e-6)
    silent = classifier.classify(np.zeros(2 * RATE, np.float32), sampling_rate=RATE)
    assert silent["emotion"] == "no speech" and silent["speech_share"] == 0
    assert silent["probabilities"] is None and silent["windows"] == 0


def test_a_long_recording_with_one_short_word_is_not_no_speech(classifier):
    """10 s, longer than the 3 s crop: windows of 2 s, none half speech. The file is answered
    from the windows the word is in instead of `no speech`."""
    word = _voice(0.7)
    recording = np.zeros(10 * RATE, np.float32)
    recording[4 * RATE + 8000 : 4 * RATE + 8000 + len(word)] = word
    answer = classifier.timeline(recording, window_seconds=2.0, sampling_rate=RATE)
    assert answer["scored"] == "windows" and 0 < answer["speech_share"] < 0.1
    assert answer["emotion"] != "no speech"
    spoken = [w for w in answer["timeline"]["windows"] if w["probabilities"] is not None]
    assert 1 <= len(spoken) <= 2 and answer["windows"] == len(spoken)
    mean = np.mean([_probabilities(w, classifier.labels) for w in spoken], axis=0)
    np.testing.assert_allclose(_probabilities(answer, classifier.labels), mean, atol=1e-6)


def test_a_detector_that_cannot_run_at_the_models_rate_is_one_usage_error(tmp_path, capsys):
    """Silero runs at 8 and 16 kHz only: a 22.05 kHz model with --vad silero stops before any
    file is read, instead of failing every file."""
    from training.inference.predict import main

    torch.manual_seed(0)
    model = save_tiny_classifier(tmp_path / "model", sampling_rate=22_050)
    clip = tmp_path / "clip.wav"
    soundfile.write(clip, _voice(1.0, 22_050), 22_050)
    assert main(["--model_dir", str(model), "--device", "cpu", str(clip)]) == 2
    error = capsys.readouterr().err
    assert "--vad silero works at 8 or 16 kHz, the model takes 22050 Hz" in error
    assert "FAILED" not in error
    assert main(["--model_dir", str(model), "--device", "cpu", "--vad", "none", str(clip)]) == 0
