"""Audio files from someone else: crafted sample rates, impossible samples, containers cut short,
files too long to decode whole. Each is refused naming the file (prepare stops, predict reports
it FAILED and keeps the other results), in bounded memory; normal files decode as before."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
import torchaudio
from model_helpers import save_tiny_classifier
from training_helpers import REPO, run_env

from data_scripts.common.audio_decoding import DEFAULT_SETTINGS, AudioDecodeError, decode_audio
from data_scripts.common.audio_spans import SpanDecoder
from data_scripts.common.sinc_resampling import sinc_resample
from data_scripts.corpora.prepare import main as prepare
from training.inference.predict import main as predict_main


def _tone(frames: int, rate: int, channels: int = 1, hz: float = 440.0) -> np.ndarray:
    t = np.arange(frames) / rate
    return np.stack([0.3 * np.sin(2 * np.pi * (hz + 50 * c) * t) for c in range(channels)], 1)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    return save_tiny_classifier(tmp_path_factory.mktemp("model") / "model")


def _predict(model: Path, folder: Path, tmp_path: Path, capsys) -> tuple[int, dict, str]:
    result = tmp_path / "predictions.json"
    status = predict_main(["--model_dir", str(model), str(folder), "--vad", "none",
                           "--device", "cpu", "--json", str(result)])  # fmt: skip
    error = capsys.readouterr().err
    assert "Traceback" not in error, error
    return status, json.loads(result.read_text()), error


def _prepare_refusal(folder: Path, tmp_path: Path, capsys) -> str:
    """The one error line of `ser-prepare --corpus folder` on a folder of label folders."""
    with pytest.raises(SystemExit) as stopped:
        prepare(["--corpus", "folder", "--data_dir", str(folder), "--output_dir",
                 str(tmp_path / "out"), "--cache_dir", str(tmp_path / "cache")])  # fmt: skip
    assert stopped.value.code == 1
    assert not (tmp_path / "out").exists()
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, errors
    return errors[0]


# --- normal files: the samples of soundfile and torchaudio, bit for bit ----------------------


@pytest.mark.parametrize("rate", [8_000, 11_025, 22_050, 32_000, 44_100, 48_000, 96_000])
@pytest.mark.parametrize(
    ("container", "subtype", "channels"),
    [("WAV", "PCM_16", 1), ("WAV", "PCM_16", 2), ("WAV", "FLOAT", 2), ("WAV", "PCM_24", 1),
     ("AIFF", "PCM_16", 2), ("FLAC", "PCM_16", 1)],
)  # fmt: skip
def test_normal_files_decode_to_exactly_soundfiles_and_torchaudios_samples(
    tmp_path, rate, container, subtype, channels
):
    """Every check added to the decoder leaves the samples of normal files as they were: the
    channel mean of soundfile's float samples through torchaudio's Resample, identical."""
    frames = int(1.37 * rate) + 17
    noise = 0.3 * np.random.default_rng(rate + channels).standard_normal((frames, channels))
    path = tmp_path / f"clip.{container.lower()}"
    sf.write(path, noise.astype(np.float32), rate, format=container, subtype=subtype)
    read, _ = sf.read(path, dtype="float32", always_2d=True)
    mono = read.mean(axis=1, dtype=np.float32)
    expected = torchaudio.transforms.Resample(
        rate, 16_000, lowpass_filter_width=6, rolloff=0.99, dtype=torch.float32
    )(torch.from_numpy(mono)).numpy()
    decoded = decode_audio(path)
    assert decoded.dtype == np.float32
    np.testing.assert_array_equal(decoded, expected)


# --- sample rates --------------------------------------------------------------------------

_PEAK_RSS = """
import resource, sys
from data_scripts.common.audio_decoding import decode_audio
decode_audio(sys.argv[1])  # a 48 kHz file: every import and torchaudio's usual kernel
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
decoded = decode_audio(sys.argv[2])
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024, len(decoded))
"""


def test_a_rate_sharing_no_factor_with_16khz_decodes_in_bounded_memory_and_correctly(tmp_path):
    """16001 Hz: torchaudio's table of 16000 x 16015 taps peaked at 5 GB for a 3.7 s file; the
    per-output filter needs a few MB, and the samples are the tone that was written."""
    usual, odd = tmp_path / "usual.wav", tmp_path / "odd.wav"
    sf.write(usual, _tone(48_000, 48_000), 48_000, subtype="PCM_16")
    frames = 59_204  # 3.7 s
    sf.write(odd, _tone(frames, 16_001), 16_001, subtype="FLOAT")
    run = subprocess.run([sys.executable, "-c", _PEAK_RSS, str(usual), str(odd)], cwd=REPO,
                         env=run_env(), capture_output=True, text=True, timeout=600)  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    grown_mb, length = map(int, run.stdout.split())
    assert grown_mb < 150, f"decoding grew the process by {grown_mb} MB"
    assert length == 59_201  # 16000 / 16001 of the frames, rounded up as torchaudio rounds

    decoded = decode_audio(odd)
    # The written 440 Hz tone at the new rate, away from the edges (where the filter sees zeros).
    written = _tone(len(decoded), 16_000)[:, 0]
    assert np.abs(decoded - written)[100:-100].max() < 1e-3
    with SpanDecoder(odd, DEFAULT_SETTINGS) as spans:
        np.testing.assert_allclose(spans.read(20_000, 30_000), decoded[20_000:30_000], atol=1e-6)


@pytest.mark.parametrize(
    ("down", "up", "method"),
    [(1_000, 999, "sinc_interp_hann"), (441, 160, "sinc_interp_hann"), (1, 2, "sinc_interp_hann"),
     (999, 1_000, "sinc_interp_kaiser"), (3, 1, "sinc_interp_hann")],
)  # fmt: skip
def test_per_output_filtering_equals_torchaudios_in_double_precision(down, up, method):
    """The formula, checked where torchaudio's own table is cheap: float64 torchaudio agrees to
    1e-6 (its float32 path is 1e-4 off for 1000 -> 999: rounding in its 1014-tap filters)."""
    samples = torch.from_numpy(0.3 * np.random.default_rng(down).standard_normal(30_011))
    expected = torchaudio.functional.resample(
        samples, down, up, lowpass_filter_width=6, rolloff=0.99, resampling_method=method
    )
    resampled = sinc_resample(samples.float(), up, down, len(expected), 6, 0.99, method)
    assert resampled.dtype == torch.float32 and resampled.shape == expected.shape
    assert (resampled.double() - expected).abs().max() < 1e-6


def _crafted_rate_wav(path: Path, rate: int) -> Path:
    """A small valid WAV whose header claims `rate` (80 KB, as a hostile file would be)."""
    sf.write(path, _tone(40_000, 16_000), rate, subtype="PCM_16")
    return path


def test_crafted_rates_are_refused_naming_the_file_and_predict_keeps_the_other_results(
    tiny_model, tmp_path, capsys
):
    """1,000,003 Hz made predict build a 64 GB table after scoring the first files: a
    traceback and nothing written; 1 Hz makes 40000 frames last 11 hours."""
    folder = tmp_path / "clips"
    folder.mkdir()
    sf.write(folder / "a_voice.wav", _tone(16_000, 16_000), 16_000)
    crafted = _crafted_rate_wav(folder / "b_crafted.wav", 1_000_003)
    slow = _crafted_rate_wav(folder / "c_slow.wav", 1)
    status, result, error = _predict(tiny_model, folder, tmp_path, capsys)
    assert status == 1
    assert [r["file"] for r in result["results"]] == [str(folder / "a_voice.wav")]
    failures = {f["file"]: f["reason"] for f in result["failures"]}
    assert set(failures) == {str(crafted), str(slow)}
    assert failures[str(crafted)].startswith("sample rate 1000003 Hz is outside 1000-768000 Hz")
    assert failures[str(slow)].startswith("sample rate 1 Hz is outside 1000-768000 Hz")
    assert f"FAILED {crafted}: sample rate 1000003 Hz" in error

    labelled = tmp_path / "corpus"
    (labelled / "angry").mkdir(parents=True)
    sf.write(labelled / "angry" / "a.wav", _tone(16_000, 16_000), 16_000)
    _crafted_rate_wav(labelled / "angry" / "b.wav", 1_000_003)
    error = _prepare_refusal(labelled, tmp_path, capsys)
    assert f"{labelled / 'angry' / 'b.wav'}: sample rate 1000003 Hz is outside" in error


# --- samples --------------------------------------------------------------------------------


def test_samples_too_large_to_be_audio_are_refused_naming_the_file(tiny_model, tmp_path, capsys):
    """A float WAV scaled by 1e20: the normalisation overflowed to zeros, and predict said
    `no speech` (with --vad none, `happy 0.979`), exit 0; prepare accepted it."""
    folder = tmp_path / "clips"
    folder.mkdir()
    huge = folder / "huge.wav"
    sf.write(huge, (_tone(16_000, 16_000) * 1e20).astype(np.float32), 16_000, subtype="FLOAT")
    # Floats holding 16-bit integers (a converter that forgot to scale) are still audio.
    int_scaled = folder / "int_scaled.wav"
    sf.write(int_scaled, _tone(16_000, 16_000) * 32767, 16_000, subtype="FLOAT")
    status, result, error = _predict(tiny_model, folder, tmp_path, capsys)
    assert status == 1
    assert [r["file"] for r in result["results"]] == [str(int_scaled)]
    assert f"FAILED {huge}: holds samples of magnitude 3e+19 (the first at 0.000 s)" in error

    labelled = tmp_path / "corpus"
    (labelled / "angry").mkdir(parents=True)
    (labelled / "angry" / "huge.wav").write_bytes(huge.read_bytes())
    error = _prepare_refusal(labelled, tmp_path, capsys)
    assert f"{labelled / 'angry' / 'huge.wav'}: holds samples of magnitude 3e+19" in error


# --- containers cut short ------------------------------------------------------------------

CONTAINERS = [
    ("WAV", "PCM_16"), ("WAVEX", "PCM_24"), ("RF64", "PCM_16"), ("W64", "FLOAT"),
    ("AIFF", "PCM_16"), ("AU", "PCM_16"), ("NIST", "PCM_16"), ("FLAC", "PCM_16"),
]  # fmt: skip
EXTENSIONS = {"WAVEX": "wav", "NIST": "sph"}


@pytest.mark.parametrize(("container", "subtype"), CONTAINERS)
def test_a_file_cut_short_is_refused_in_every_container(tmp_path, container, subtype):
    """libsndfile shortens a cut file to what it holds, silently: a half-cut `.rf64` was
    scored as a complete 2.458 s file. The whole file decodes; the cut one is refused by
    whole-file decoding (prepare) and by stretch decoding (predict)."""
    path = tmp_path / f"clip.{EXTENSIONS.get(container, container.lower())}"
    buffer = io.BytesIO()
    sf.write(buffer, _tone(40_000, 16_000, 2), 16_000, format=container, subtype=subtype)
    data = buffer.getvalue()
    path.write_bytes(data)
    assert len(decode_audio(path)) == 40_000
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(AudioDecodeError) as whole:
        decode_audio(path)
    with pytest.raises(AudioDecodeError) as stretch:  # noqa: PT012
        with SpanDecoder(path, DEFAULT_SETTINGS) as spans:
            spans.read(0, spans.length)
    for caught in (whole, stretch):
        message = str(caught.value)
        assert message.startswith(f"{path}: "), message
        assert any(word in message for word in ("truncated", "ends early", "cannot decode"))
        assert "\n" not in message


# --- length ----------------------------------------------------------------------------------


def test_a_file_too_long_to_decode_whole_is_refused_by_prepare_and_read_by_predict(
    tiny_model, tmp_path, capsys
):
    """Prepare decoded each file whole: a 4 GB WAV needed about 20 GB, and the out-of-memory
    error named no file. Above 2^26 samples (here 70 minutes of 16 kHz 8-bit mono, 64 MB) it
    is refused naming the file; predict still reads it in stretches."""
    labelled = tmp_path / "corpus"
    (labelled / "angry").mkdir(parents=True)
    long = labelled / "angry" / "meeting.wav"
    frames = (1 << 26) + 16_000
    with sf.SoundFile(long, "w", 16_000, 1, subtype="PCM_U8") as sound:
        block = _tone(1 << 20, 16_000)
        for _ in range(frames >> 20):
            sound.write(block)
        sound.write(block[: frames % (1 << 20)])
    error = _prepare_refusal(labelled, tmp_path, capsys)
    assert f"{long}: too long to decode whole: 69.9 minutes at 16000 Hz in 1 channel(s)" in error
    assert "ser-predict" in error
    with SpanDecoder(long, DEFAULT_SETTINGS) as spans:
        assert spans.length == frames
        assert np.abs(spans.read(frames - 100, frames)).max() > 0.1
