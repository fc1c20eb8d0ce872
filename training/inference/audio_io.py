"""Predict's audio input: which files it reads, decoded with the settings saved with the model.

Decoding itself is `data_scripts.audio_decoding` (soundfile, no FFmpeg), the same code the
dataset builder uses; the settings come from the model folder (`training.model.decode_settings`),
so a file is downmixed and resampled exactly as the training data was. Importing this module
loads neither `datasets` nor pyarrow.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from data_scripts.audio_decoding import DecodeSettings, decode_audio

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg")


def load_audio(path: str | Path, settings: DecodeSettings) -> np.ndarray:
    """Mono float32 samples of `path` decoded with `settings`.

    Raises AudioDecodeError (a ValueError) naming the file: undecodable, cut short, or empty.
    """
    return decode_audio(path, settings)
