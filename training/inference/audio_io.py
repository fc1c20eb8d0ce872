"""Predict's audio input: which files it reads, decoded with the settings saved with the model.

Files are chosen by what libsndfile opens, not by a short list of extensions: a file named with
the extension of a format this libsndfile reads (`soundfile.available_formats()`: .oga, .opus,
.aiff, .au, .caf, .mp3 where supported, ...) is audio, and is reported by name when it then
fails to decode; any other file is audio when libsndfile opens it. Decoding itself is
`data_scripts.common.audio_decoding` (soundfile, no FFmpeg), the same code the dataset builder
uses; the settings come from the model folder (`training.model.decode_settings`). Importing
this module loads neither `datasets` nor pyarrow.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile

from data_scripts.common.audio_decoding import (
    AudioDecodeError,
    DecodeSettings,
    _mono,
    decode_audio,
    refuse_impossible_samples,
    resample,
)

# A 2-D array with at most this many rows and more columns is read as channels x samples
# (torchaudio's layout); any other 2-D array as samples x channels (soundfile's).
MAX_CHANNELS = 16
# Integer samples are scaled as libsndfile scales them when it reads them as float.
_INTEGER_SCALE = {np.dtype(np.int16): 32768.0, np.dtype(np.int32): 2.0**31}

# The file extensions of each libsndfile major format (RAW, header-less, cannot be recognised).
_FORMAT_EXTENSIONS = {
    "WAV": (".wav", ".wave"), "WAVEX": (".wav",), "RF64": (".rf64",), "W64": (".w64",),
    "FLAC": (".flac",), "OGG": (".ogg", ".oga", ".opus"), "MP3": (".mp3",),
    "AIFF": (".aiff", ".aif", ".aifc"), "AU": (".au", ".snd"), "CAF": (".caf",),
    "AVR": (".avr",), "HTK": (".htk",), "SVX": (".iff", ".svx", ".8svx"),
    "MAT4": (".mat",), "MAT5": (".mat",), "MPC2K": (".mpc",), "PAF": (".paf",),
    "PVF": (".pvf",), "SD2": (".sd2",), "SDS": (".sds",), "IRCAM": (".sf", ".ircam"),
    "VOC": (".voc",), "NIST": (".nist", ".sph"), "WVE": (".wve",), "XI": (".xi",),
}  # fmt: skip
AUDIO_EXTENSIONS = tuple(
    sorted(
        {
            extension
            for name in soundfile.available_formats()
            for extension in _FORMAT_EXTENSIONS.get(name, ())
        }
    )
)


def is_audio_file(path: Path) -> bool:
    """True for a file with an extension of a format libsndfile reads, or one it opens."""
    if path.suffix.lower() in AUDIO_EXTENSIONS:
        return True
    try:
        soundfile.info(str(path))
    except (soundfile.LibsndfileError, RuntimeError, OSError):
        return False
    return True


def load_audio(path: str | Path, settings: DecodeSettings) -> np.ndarray:
    """Mono float32 samples of `path` decoded with `settings`.

    Raises AudioDecodeError (a ValueError) naming the file: undecodable, cut short, or empty.
    """
    return decode_audio(path, settings)


def samples_at_rate(
    audio, sampling_rate: int, settings: DecodeSettings, name: str = "the array"
) -> np.ndarray:
    """Mono float32 samples at the settings' rate from a 1-D or 2-D array (see MAX_CHANNELS),
    channels averaged and resampled exactly as a file is decoded (audio_decoding).

    Raises AudioDecodeError naming `name`: empty, NaN or infinite samples, or another shape."""
    import torch

    array = np.asarray(audio)
    if array.ndim == 1:
        array = array[:, None]
    elif array.ndim == 2 and array.shape[0] <= MAX_CHANNELS < array.shape[1]:
        array = array.T
    elif array.ndim != 2:
        raise AudioDecodeError(f"{name}: give a 1-D or 2-D array of samples, got {array.shape}")
    if array.dtype in _INTEGER_SCALE:
        array = array.astype(np.float32) / np.float32(_INTEGER_SCALE[array.dtype])
    elif not np.issubdtype(array.dtype, np.floating):
        raise AudioDecodeError(f"{name}: samples of type {array.dtype}; give float or int16")
    if array.shape[0] == 0:
        raise AudioDecodeError(f"{name}: holds no audio samples")
    mono = _mono(np.ascontiguousarray(array, dtype=np.float32))
    refuse_impossible_samples(mono, name, 0, int(sampling_rate))
    if int(sampling_rate) != settings.target_sampling_rate:
        with torch.inference_mode():
            mono = resample(torch.from_numpy(mono), int(sampling_rate), settings).numpy()
    return np.ascontiguousarray(mono, dtype=np.float32)


class ArraySource:
    """Samples already decoded, read by span like `audio_spans.SpanDecoder`."""

    def __init__(self, samples: np.ndarray, name: str | None = None):
        self.samples = samples
        self.length = len(samples)
        self.name = name

    def __enter__(self) -> ArraySource:
        return self

    def __exit__(self, *exc) -> None:
        return None

    def read(self, start: int, stop: int) -> np.ndarray:
        return self.samples[start : min(stop, self.length)]
