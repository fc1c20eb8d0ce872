"""Decode an audio file to a mono float32 array at a chosen rate, without FFmpeg.

Uses the dataset builder's decoder, so files scored by `predict` are downmixed and resampled
exactly as the training data was.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile

from data_scripts.ravdess import decode_waveform

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg")


def load_audio(path: str | Path, target_sampling_rate: int) -> np.ndarray:
    """Mono float32 samples of `path` at `target_sampling_rate` (channels averaged).

    Raises ValueError naming the file when it cannot be decoded or holds no samples.
    """
    try:
        mono = decode_waveform(str(path), target_sampling_rate)
    except (soundfile.LibsndfileError, RuntimeError, OSError) as error:
        raise ValueError(f"{path}: cannot decode audio ({error})") from error
    if mono.size == 0:
        raise ValueError(f"{path}: holds no audio samples")
    return np.ascontiguousarray(mono, dtype=np.float32)
