"""Decode an audio file to a mono float32 array at a chosen rate, without FFmpeg.

soundfile reads wav/flac/ogg (including RAVDESS's extra RIFF chunks); torchaudio only
resamples, since its loaders need torchcodec in torchaudio 2.9+.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile
import torch
import torchaudio

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg")


def load_audio(path: str | Path, target_sampling_rate: int) -> np.ndarray:
    """Mono float32 samples of `path` at `target_sampling_rate` (channels averaged).

    Raises ValueError naming the file when it cannot be decoded or holds no samples.
    """
    try:
        samples, sampling_rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError, OSError) as error:
        raise ValueError(f"{path}: cannot decode audio ({error})") from error
    if samples.size == 0:
        raise ValueError(f"{path}: holds no audio samples")
    mono = samples.mean(axis=1, dtype=np.float32)
    if sampling_rate != target_sampling_rate:
        resampled = torchaudio.functional.resample(
            torch.from_numpy(mono), orig_freq=sampling_rate, new_freq=target_sampling_rate
        )
        mono = resampled.numpy()
    return np.ascontiguousarray(mono, dtype=np.float32)
