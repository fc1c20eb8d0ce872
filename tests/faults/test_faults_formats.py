"""Odd but valid audio decodes to what was written: rates, sample formats, channels, length."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile
import torch
import torchaudio

from data_scripts.common.audio_decoding import DecodeSettings
from training.inference.audio_io import load_audio

TARGET_RATE = 16_000


def _written(seconds: float, rate: int, channels: int) -> np.ndarray:
    """Distinct tones per channel, within [-0.5, 0.5] so no format clips them."""
    t = np.arange(int(seconds * rate)) / rate
    tones = [0.4 * np.sin(2 * np.pi * (150 + 110 * c) * t) for c in range(channels)]
    return np.stack(tones, axis=1)


def _expected(signal: np.ndarray, rate: int) -> np.ndarray:
    """The written signal, channel mean, resampled with torchaudio's defaults."""
    mono = torch.from_numpy(signal.mean(axis=1).astype(np.float32))
    return torchaudio.functional.resample(mono, rate, TARGET_RATE).numpy()


@pytest.mark.parametrize(
    ("rate", "subtype", "channels", "seconds", "tolerance"),
    [
        (44_100, "PCM_16", 1, 1.0, 2e-4),
        (22_050, "PCM_16", 2, 1.0, 2e-4),
        (48_000, "PCM_U8", 1, 1.0, 2e-2),  # 8-bit: a step of 1/128
        (48_000, "PCM_24", 2, 1.0, 1e-5),
        (48_000, "FLOAT", 1, 1.0, 1e-5),
        (48_000, "PCM_16", 6, 1.0, 2e-4),
        (48_000, "PCM_16", 1, 60.0, 2e-4),
    ],
)
def test_odd_formats_decode_to_the_written_signal(
    tmp_path, rate, subtype, channels, seconds, tolerance
):
    signal = _written(seconds, rate, channels)
    path = tmp_path / f"clip_{subtype}.wav"
    soundfile.write(path, signal, rate, subtype=subtype)
    decoded = load_audio(path, DecodeSettings(target_sampling_rate=TARGET_RATE))
    expected = _expected(signal, rate)
    assert decoded.dtype == np.float32
    assert decoded.shape == expected.shape == (round(seconds * TARGET_RATE),)
    assert np.max(np.abs(decoded - expected)) < tolerance
