"""A fingerprint of a clip's decoded audio, so copies of one recording are found whatever the
files are called: the SHA-256 of its 16 kHz float32 samples (the samples the model sees)."""

from __future__ import annotations

import hashlib

import numpy as np

AUDIO_HASH_COLUMN = "audio_sha256"


def audio_sha256(waveform) -> str:
    """Hex SHA-256 of the samples as little-endian float32."""
    samples = np.ascontiguousarray(np.asarray(waveform, dtype="<f4"))
    return hashlib.sha256(samples.tobytes()).hexdigest()
