"""common.audio_decoding on generated files: samples, the cached kernel, refused faults."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
import torchaudio.functional as audio_functional

from data_scripts.common.audio_decoding import (
    DEFAULT_SETTINGS,
    AudioDecodeError,
    DecodeSettings,
    decode_audio,
    padded_length,
    resample,
    resampler,
)

REPO = Path(__file__).resolve().parents[2]


def _noise(frames: int, channels: int, seed: int) -> np.ndarray:
    return (0.3 * np.random.default_rng(seed).standard_normal((frames, channels))).astype("float32")


def truncated_wav(path: Path, rate: int = 48_000, frames: int = 24_000, cut: int = 10_000) -> int:
    """A real 16-bit stereo WAV with `cut` bytes chopped off its end; returns the frames left."""
    sf.write(path, _noise(frames, 2, 3), rate, subtype="PCM_16")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - cut])
    return frames - cut // 4  # 4 bytes per stereo 16-bit frame


@pytest.mark.parametrize("rate", [44_100, 48_000])
@pytest.mark.parametrize("channels", [1, 2])
def test_decode_equals_soundfile_mean_and_functional_resample(tmp_path, rate, channels):
    samples = _noise(int(2.3 * rate), channels, seed=channels)
    path = tmp_path / "clip.wav"
    sf.write(path, samples, rate, subtype="FLOAT")
    mono = torch.from_numpy(samples.mean(axis=1, dtype=np.float32))

    decoded = decode_audio(path)
    decoded_again = decode_audio(path)  # through the cached kernel

    expected = audio_functional.resample(mono, rate, 16_000).numpy()
    assert decoded.dtype == np.float32 and decoded.shape == expected.shape
    assert np.abs(decoded - expected).max() < 1e-6
    assert np.abs(decoded_again - expected).max() < 1e-6


def test_non_default_settings_equal_functional_resample_with_them(tmp_path):
    settings = DecodeSettings(
        target_sampling_rate=8_000,
        lowpass_filter_width=16,
        rolloff=0.85,
        resampling_method="sinc_interp_kaiser",
    )
    samples = _noise(44_100, 2, seed=5)
    path = tmp_path / "clip.flac"
    sf.write(path, samples, 44_100, subtype="PCM_24")
    read, _ = sf.read(path, dtype="float32", always_2d=True)
    expected = audio_functional.resample(
        torch.from_numpy(read.mean(axis=1, dtype=np.float32)),
        44_100,
        8_000,
        lowpass_filter_width=16,
        rolloff=0.85,
        resampling_method="sinc_interp_kaiser",
    ).numpy()
    decoded = decode_audio(path, settings)
    assert np.abs(decoded - expected).max() < 1e-6
    # The filter settings matter: the default filter at the same rate gives other samples.
    default_filter = decode_audio(path, DecodeSettings(target_sampling_rate=8_000))
    assert np.abs(default_filter - expected).max() > 1e-3


def test_resampler_is_built_once_per_rate_and_settings():
    first = resampler(48_000, DEFAULT_SETTINGS)
    assert resampler(48_000, DecodeSettings()) is first
    assert resampler(44_100, DEFAULT_SETTINGS) is not first
    assert resampler(48_000, DecodeSettings(rolloff=0.9)) is not first


def test_settings_round_trip_and_refuse_unknown_keys():
    settings = DecodeSettings(lowpass_filter_width=16, rolloff=0.9)
    assert DecodeSettings.from_dict(settings.as_dict()) == settings
    assert DEFAULT_SETTINGS.as_dict() == {
        "target_sampling_rate": 16_000,
        "lowpass_filter_width": 6,
        "rolloff": 0.99,
        "resampling_method": "sinc_interp_hann",
    }
    with pytest.raises(ValueError, match="rollof"):
        DecodeSettings.from_dict({"rollof": 0.9})


def test_same_rate_mono_is_returned_unchanged(tmp_path):
    samples = _noise(16_000, 1, seed=9)
    sf.write(tmp_path / "m.wav", samples, 16_000, subtype="FLOAT")
    np.testing.assert_array_equal(decode_audio(tmp_path / "m.wav"), samples[:, 0])


def test_truncated_wav_is_refused_naming_file_and_counts(tmp_path):
    path = tmp_path / "cut.wav"
    held = truncated_wav(path)
    with pytest.raises(AudioDecodeError) as caught:
        decode_audio(path)
    message = str(caught.value)
    assert message == f"{path}: truncated: header declares 24000 frames, file holds {held}"
    assert "\n" not in message


def test_truncated_wav_in_memory_is_refused_under_its_name(tmp_path):
    path = tmp_path / "cut.wav"
    truncated_wav(path)
    with pytest.raises(AudioDecodeError, match=r"^a.zip:cut.wav: truncated: header declares"):
        decode_audio(io.BytesIO(path.read_bytes()), name="a.zip:cut.wav")


def test_whole_wav_with_odd_chunks_is_not_called_truncated(tmp_path):
    """An odd-sized (padded) data chunk followed by a LIST chunk decodes fully, unrefused."""
    path = tmp_path / "tagged.wav"
    samples = _noise(4_801, 1, seed=2)
    sf.write(path, samples, 48_000, subtype="PCM_24")  # 4801 x 3 bytes: an odd data chunk
    sf.write(tmp_path / "ref.wav", samples, 48_000, subtype="PCM_24")
    with sf.SoundFile(path, "r+") as handle:  # libsndfile appends a LIST chunk for the title
        handle.title = "take 1"
    assert b"LIST" in path.read_bytes()
    decoded = decode_audio(path)
    np.testing.assert_array_equal(decoded, decode_audio(tmp_path / "ref.wav"))


@pytest.mark.parametrize("rate", [16_000, 48_000])
def test_wav_with_no_frames_says_so(tmp_path, rate):
    path = tmp_path / "silent.wav"
    sf.write(path, np.zeros((0, 2), dtype=np.float32), rate)
    with pytest.raises(AudioDecodeError, match=f"^{path}: holds no audio samples$"):
        decode_audio(path)


def test_undecodable_and_missing_files_are_named(tmp_path):
    garbage = tmp_path / "garbage.wav"
    garbage.write_bytes(b"RIFF this is not a wav file")
    with pytest.raises(AudioDecodeError, match=f"^{garbage}: cannot decode audio"):
        decode_audio(garbage)
    with pytest.raises(AudioDecodeError, match="missing.wav: cannot read"):
        decode_audio(tmp_path / "missing.wav")


def test_predict_imports_neither_datasets_nor_pyarrow():
    script = (
        "import sys, training.inference.predict\n"
        "print('datasets' in sys.modules, 'pyarrow' in sys.modules)"
    )
    env = dict(os.environ, PYTHONPATH=str(REPO))
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True, text=True,
        timeout=120, check=True,
    )  # fmt: skip
    assert result.stdout.split() == ["False", "False"]


# Lengths at and around the padding's steps, one sample, and a length where torchaudio's
# float32 rounding of the output length differs from the exact ceiling (44.1 kHz, 300208 frames:
# 108919.002 rounds to 108919.0). Rates whose table would be large (16001 Hz) are resampled by
# `sinc_resampling`, checked in tests/faults/test_faults_audio.py.
@pytest.mark.parametrize(
    ("rate", "frames"),
    [(48_000, n) for n in (1, 2, 31, 32, 33, 4_095, 4_096, 4_097, 152_043, 196_608, 200_001)]
    + [(44_100, 101_117), (22_050, 65_536), (8_000, 12_345), (44_100, 300_208)],
)
def test_resample_with_shared_lengths_equals_functional_resample(rate, frames):
    samples = torch.from_numpy(_noise(frames, 1, seed=frames)[:, 0])
    expected = audio_functional.resample(samples, rate, 16_000)
    resampled = resample(samples, rate, DEFAULT_SETTINGS)
    assert resampled.shape == expected.shape
    assert (resampled - expected).abs().max() < 1e-6


def test_padded_lengths_are_few_and_cost_little():
    # Every length of a 2-6 s clip at 48 kHz, the range of RAVDESS's files.
    frames = np.arange(96_000, 288_001)
    padded = np.array([padded_length(int(n)) for n in frames])
    assert (padded >= frames).all()
    assert (padded - frames < frames / 16).all()
    assert len(set(padded.tolist())) <= 30


def test_decoding_clips_of_many_lengths_convolves_few_shapes(tmp_path):
    """oneDNN builds a convolution per new input shape, which costs more than the filtering:
    40 clips of 40 lengths (150000-188883 samples) must reach it with a few shapes."""
    paths = []
    for index in range(40):
        path = tmp_path / f"clip{index}.wav"
        sf.write(path, _noise(150_000 + 997 * index, 1, seed=index), 48_000, subtype="PCM_16")
        paths.append(path)
    with torch.profiler.profile(
        activities=[torch.profiler.ProfilerActivity.CPU], record_shapes=True
    ) as prof:
        for path in paths:
            decode_audio(path)
    shapes = {str(e.input_shapes[0]) for e in prof.events() if e.name == "aten::conv1d"}
    assert 0 < len(shapes) <= 8, shapes  # 40 without the shared lengths
