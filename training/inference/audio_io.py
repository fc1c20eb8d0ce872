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

from data_scripts.common.audio_decoding import DecodeSettings, decode_audio

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
