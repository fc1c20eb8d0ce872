"""ser-stream as users run it: audio piped in (at real-time pace, cut short, empty), its lines
compared with `ser-predict --timeline` on the same recording saved as a file."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch
from serving_helpers import RATE, command_env, speech_with_pauses, tiny_model

from data_scripts.common.audio_decoding import DEFAULT_SETTINGS, DecodeSettings, resample
from training.inference.classifier import EmotionClassifier
from training.inference.vad import make_vad
from training.inference.windows import STRETCH_WINDOWS
from training.serving.audio_input import StreamResampler
from training.serving.live_windows import LiveWindows

# Short windows: 10 s give 39 windows, more than one stretch of the detector (32 windows).
WINDOW, HOP = 0.5, 0.25


@pytest.fixture(scope="module")
def recordings(tmp_path_factory) -> dict:
    """A tiny model; three recordings as files (16 kHz 16-bit; 44.1 kHz stereo float; one that
    ends between hops) and their samples as a stream carries them; ser-predict's windows of all
    three from one run."""
    root = tmp_path_factory.mktemp("stream")
    model = tiny_model(root / "model")
    pcm = np.round(speech_with_pauses(10.0) * 0.8 * 32767).astype("<i2")
    speech = pcm.astype(np.float32) / 32768
    stereo = torch.from_numpy(np.stack([speech[: 6 * RATE], 0.5 * speech[: 6 * RATE]]))
    stereo = (resample(stereo, RATE, DecodeSettings(44_100)).numpy().T * 0.7).astype("<f4")
    cut = pcm[: round(3.3 * RATE)]
    files = {"pcm": root / "speech.wav", "stereo": root / "stereo.wav", "cut": root / "cut.wav"}
    soundfile.write(files["pcm"], pcm, RATE, subtype="PCM_16")
    soundfile.write(files["stereo"], stereo, 44_100, subtype="FLOAT")
    soundfile.write(files["cut"], cut, RATE, subtype="PCM_16")
    out = root / "predicted.json"
    subprocess.run(
        ["ser-predict", "--model_dir", str(model), *map(str, files.values()), "--timeline",
         "--json", str(out), "--window_seconds", str(WINDOW), "--hop_seconds", str(HOP)],
        check=True, capture_output=True, env=command_env(), timeout=600,
    )  # fmt: skip
    results = {Path(r["file"]).name: r for r in json.loads(out.read_text())["results"]}
    windows = {key: results[path.name]["timeline"]["windows"] for key, path in files.items()}
    return {"model": model, "pcm": pcm, "stereo": stereo, "cut": cut, "windows": windows}


@pytest.fixture(scope="module")
def model(recordings) -> Path:
    return recordings["model"]


def _stream(model: Path, *options: str) -> subprocess.Popen:
    return subprocess.Popen(
        ["ser-stream", str(model), "-", "--window_seconds", str(WINDOW),
         "--hop_seconds", str(HOP), *options],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env=command_env(),
    )  # fmt: skip


def _assert_same_windows(lines: list[dict], expected: list[dict]) -> None:
    assert [(r["start_s"], r["end_s"], r["emotion"]) for r in lines] == [
        (r["start_s"], r["end_s"], r["emotion"]) for r in expected
    ]
    for got, want in zip(lines, expected, strict=True):
        if want["probabilities"] is None:
            assert got["probabilities"] is None
            continue
        assert abs(got["probability"] - want["probability"]) <= 1e-4
        for label, p in want["probabilities"].items():
            assert abs(got["probabilities"][label] - p) <= 1e-4


def test_a_recording_piped_at_real_time_pace_gives_predicts_timeline_windows(recordings):
    pcm, expected = recordings["pcm"], recordings["windows"]["pcm"]
    assert {"silence"} < {r["emotion"] for r in expected}  # speech and pauses both
    assert len(expected) > STRETCH_WINDOWS  # the detector's stretches change on the way
    model = recordings["model"]
    process = _stream(model)
    # Play in real time once the model is loaded and the command listens.
    for line in process.stderr:
        if line.startswith(b"ser-stream: listening"):
            break
    lines, arrival = [], []

    def read() -> None:
        for line in process.stdout:
            lines.append(json.loads(line))
            arrival.append(time.monotonic())

    reader = threading.Thread(target=read)
    reader.start()
    chunk = RATE // 10
    started = time.monotonic()
    for first in range(0, len(pcm), chunk):
        process.stdin.write(pcm[first : first + chunk].tobytes())
        process.stdin.flush()
        time.sleep(max(started + (first + chunk) / RATE - time.monotonic(), 0))
    finished = time.monotonic()
    process.stdin.close()
    reader.join(timeout=600)
    stderr = process.stderr.read().decode()
    assert process.wait(timeout=60) == 0, stderr
    _assert_same_windows(lines, expected)
    # Lines came while the audio was still playing, not all at the end.
    assert sum(t < finished for t in arrival) >= len(lines) // 2
    assert f"{len(lines)} windows over 10.0 s" in stderr.strip().splitlines()[-1]


def test_resampled_stereo_float_stream_gives_predicts_windows(recordings):
    result = subprocess.run(
        ["ser-stream", str(recordings["model"]), "--input", "-", "--format", "f32le",
         "--sample_rate", "44100", "--channels", "2", "--window_seconds", str(WINDOW),
         "--hop_seconds", str(HOP)],
        input=recordings["stereo"].tobytes(), capture_output=True, env=command_env(),
        timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr.decode()
    lines = [json.loads(x) for x in result.stdout.splitlines()]
    _assert_same_windows(lines, recordings["windows"]["stereo"])


def test_a_stream_cut_short_flushes_its_last_window(recordings):
    """A stream that stops mid-sample (a killed recorder): the whole samples are scored, and
    the last window ends where the stream ended, as predict's last window ends at the file's."""
    expected = recordings["windows"]["cut"]
    assert expected[-1]["end_s"] == 3.3 and expected[-1]["start_s"] % HOP != 0
    process = _stream(recordings["model"])
    out, err = process.communicate(recordings["cut"].tobytes() + b"\x01", timeout=600)
    assert process.returncode == 0, err.decode()
    _assert_same_windows([json.loads(x) for x in out.splitlines()], expected)


def test_an_empty_stream_exits_0_saying_no_audio(model):
    result = subprocess.run(["ser-stream", str(model), "-"], input=b"", capture_output=True,
                            env=command_env(), timeout=600)  # fmt: skip
    assert result.returncode == 0
    assert result.stdout == b""
    assert result.stderr.decode().strip().splitlines()[-1] == "ser-stream: no audio"


def test_a_missing_microphone_is_one_line(model):
    result = subprocess.run(
        ["ser-stream", str(model), "--input", "mic"], capture_output=True, text=True,
        env=command_env(), timeout=600, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    if result.returncode == 0:
        pytest.skip("this machine has a microphone")
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: no microphone") and "--input -" in last
    assert "Traceback" not in result.stderr


def test_the_stream_resampler_gives_the_whole_recordings_samples():
    rng = np.random.default_rng(0)
    signal = rng.standard_normal(44_100 * 3).astype(np.float32) * 0.3
    whole = resample(torch.from_numpy(signal), 44_100, DEFAULT_SETTINGS).numpy()
    resampler, pieces, first = StreamResampler(44_100, DEFAULT_SETTINGS), [], 0
    while first < len(signal):
        size = int(rng.integers(1, 9000))
        pieces.append(resampler.push(signal[first : first + size]))
        first += size
    pieces.append(resampler.finish())
    streamed = np.concatenate(pieces)
    assert len(streamed) == len(whole)
    assert np.max(np.abs(streamed - whole)) < 1e-5


def test_memory_stays_flat_over_a_long_stream(model):
    """Five detector stretches of audio: what is held never exceeds one stretch (32 hops, a
    window and a second), however long the stream runs."""
    classifier = EmotionClassifier.from_pretrained(model, device="cpu")
    window = RATE // 4
    live = LiveWindows(classifier, make_vad("none", RATE), window, window)
    rng = np.random.default_rng(0)
    held, rows = [], 0
    for _ in range(5 * STRETCH_WINDOWS):
        rows += len(live.feed(0.1 * rng.standard_normal(window).astype(np.float32)))
        held.append(live.total - live._origin)
    rows += len(live.finish())
    assert rows == 5 * STRETCH_WINDOWS
    assert max(held) <= (STRETCH_WINDOWS + 2) * window + RATE
    assert max(held[2 * STRETCH_WINDOWS :]) <= max(held[: 2 * STRETCH_WINDOWS])
