"""Decode one audio file to mono float32 at a fixed rate: soundfile, channel average, torchaudio.

The settings live in one frozen dataclass, `DecodeSettings`: the dataset builder puts them in its
cache fingerprint, the training script saves them beside the model, and predict reads them back,
so that a clip is decoded the same way in training and in prediction. The resampling kernel is
built once per (source rate, settings) in each process and reused, and clips are zero-extended to
a few shared lengths before resampling (see `resample`); the samples are those of
`torchaudio.functional.resample`, which rebuilds the kernel on every call.

Faults a decoder must not hide are refused with `AudioDecodeError`, one line naming the file:
undecodable bytes, a WAV whose header declares more frames than the file holds (a cut download),
and a file with no samples.
"""

from __future__ import annotations

import dataclasses
import functools
import io
import math
import struct
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import numpy as np
import soundfile as sf

if TYPE_CHECKING:
    import torch
    import torchaudio.transforms as audio_transforms
# torch and torchaudio (1.5 s to import) load when a file needs resampling: a prepare command
# whose build is cached decodes nothing and never needs them.

# The rate every prepared dataset is decoded to: the input rate of wav2vec2 models.
TARGET_SAMPLING_RATE = 16_000
# A RIFF chunk size of all ones means "unknown" (a stream that was never finalised).
_UNKNOWN_CHUNK_SIZE = 0xFFFFFFFF


class AudioDecodeError(ValueError):
    """A file that cannot be turned into samples; the message names the file and the reason."""


@dataclasses.dataclass(frozen=True)
class DecodeSettings:
    """Output rate and `torchaudio.functional.resample`'s arguments."""

    target_sampling_rate: int = TARGET_SAMPLING_RATE
    lowpass_filter_width: int = 6
    rolloff: float = 0.99
    resampling_method: str = "sinc_interp_hann"

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> DecodeSettings:
        """Settings from `as_dict()`'s output; ValueError naming any key it does not know."""
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown audio decoding settings {unknown}; known: {sorted(known)}")
        return cls(**values)


DEFAULT_SETTINGS = DecodeSettings()


@functools.lru_cache(maxsize=32)
def resampler(source_rate: int, settings: DecodeSettings) -> audio_transforms.Resample:
    """The resampler from `source_rate` to the settings' rate, built once per process."""
    import torch
    import torchaudio.transforms as audio_transforms

    return audio_transforms.Resample(
        source_rate,
        settings.target_sampling_rate,
        resampling_method=settings.resampling_method,
        lowpass_filter_width=settings.lowpass_filter_width,
        rolloff=settings.rolloff,
        dtype=torch.float32,
    )


def padded_length(frames: int) -> int:
    """`frames` rounded up to a multiple of a power of two between 1/32 and 1/16 of it: 16
    lengths per doubling of the clip length, less than 1/16 more samples to filter."""
    step = 1 << max(frames.bit_length() - 5, 0)
    return -(-frames // step) * step


def resample(mono: torch.Tensor, source_rate: int, settings: DecodeSettings) -> torch.Tensor:
    """`mono` (1-D) at the settings' rate, equal to `torchaudio.functional.resample`.

    The convolution library (oneDNN) builds and compiles a new convolution for every input length
    it has not seen, which costs twice the filtering of a 4 s clip, and RAVDESS's clips almost
    all differ in length. Zero-extending each clip to `padded_length` lets clips share a few
    lengths. Output sample j only reads input samples up to about j * ratio + filter width, where
    torchaudio pads with zeros too, so the kept samples are the same numbers; the extra zeros only
    produce output beyond the clip's end, which is cut off.
    """
    import torch

    frames = mono.shape[-1]
    divisor = math.gcd(source_rate, settings.target_sampling_rate)
    up, down = settings.target_sampling_rate // divisor, source_rate // divisor
    # torchaudio's output length, rounded as it rounds it (a float32 ceil).
    kept = int(torch.ceil(torch.as_tensor(up * frames / down)))
    extended = torch.nn.functional.pad(mono, (0, padded_length(frames) - frames))
    return resampler(source_rate, settings)(extended)[:kept]


def declared_wav_frames(handle: BinaryIO) -> int | None:
    """Frames the RIFF/WAVE header's data chunk declares, or None when it is not a plain RIFF
    WAV or the size is unknown. libsndfile silently shortens a cut file's data chunk to what is
    there, so its frame count cannot reveal the cut; the header can."""
    start = handle.tell()
    try:
        riff = handle.read(12)
        if len(riff) < 12 or riff[:4] != b"RIFF" or riff[8:12] != b"WAVE":
            return None
        block_align = None
        while True:
            header = handle.read(8)
            if len(header) < 8:
                return None
            chunk_id, size = header[:4], struct.unpack("<I", header[4:])[0]
            if chunk_id == b"fmt ":
                fmt = handle.read(size)
                if len(fmt) < 14:
                    return None
                block_align = struct.unpack("<H", fmt[12:14])[0]
                handle.seek(size % 2, io.SEEK_CUR)  # chunks are padded to even sizes
            elif chunk_id == b"data":
                if not block_align or size == _UNKNOWN_CHUNK_SIZE:
                    return None
                return size // block_align
            else:
                handle.seek(size + size % 2, io.SEEK_CUR)
    finally:
        handle.seek(start)


def _read(handle: BinaryIO, name: str) -> tuple[np.ndarray, int]:
    """(mono float32 samples, rate); AudioDecodeError for a cut or empty file."""
    declared = declared_wav_frames(handle)
    try:
        with sf.SoundFile(handle) as sound:
            rate = sound.samplerate
            if sound.subtype == "PCM_16":
                mono = _pcm16_mono(sound.read(dtype="int16", always_2d=True))
            else:
                mono = _mono(sound.read(dtype="float32", always_2d=True))
                refuse_non_finite(mono, name, 0, rate)
    except (sf.LibsndfileError, RuntimeError) as error:
        raise AudioDecodeError(f"{name}: cannot decode audio ({error})") from error
    held = len(mono)
    if declared is not None and declared > held:
        raise AudioDecodeError(
            f"{name}: truncated: header declares {declared} frames, file holds {held}"
        )
    if held == 0:
        raise AudioDecodeError(f"{name}: holds no audio samples")
    return mono, rate


def refuse_non_finite(mono: np.ndarray, name: str, first_frame: int, rate: int) -> None:
    """Float files can hold NaN or infinite samples (a damaged export or a broken effect chain).
    One such sample makes every training loss NaN, and with it every weight of the model, so it
    is refused naming the file and the time. Integer PCM cannot hold them."""
    finite = np.isfinite(mono)
    if not finite.all():
        seconds = (first_frame + int(np.argmin(finite))) / rate
        raise AudioDecodeError(
            f"{name}: holds NaN or infinite samples (the first at {seconds:.3f} s): the file is "
            "damaged; export it again or leave it out"
        )


def _mono(samples: np.ndarray) -> np.ndarray:
    """Channel average of frames x channels float32 samples. Summing column by column is the
    same arithmetic as `samples.mean(axis=1)` for the usual 1-2 channels, and about 25 times
    faster: numpy reduces a short last axis slowly."""
    if samples.shape[1] == 1:
        return samples[:, 0]
    mono = samples[:, 0].copy()
    for channel in range(1, samples.shape[1]):
        mono += samples[:, channel]
    mono /= np.float32(samples.shape[1])
    return mono


def _pcm16_mono(samples: np.ndarray) -> np.ndarray:
    """Channel average of 16-bit samples as float32 in [-1, 1), the values libsndfile's float
    read gives (sample / 32768), bit for bit: the integer sum is exact, and dividing by a power of
    two before the channel count changes no rounding. Reading 16-bit integers and converting here
    takes a fifth of the time of libsndfile's float conversion."""
    if samples.shape[1] == 1:
        return samples[:, 0].astype(np.float32) / np.float32(32768)
    total = samples[:, 0].astype(np.int32)
    for channel in range(1, samples.shape[1]):
        total += samples[:, channel]
    return total.astype(np.float32) / np.float32(32768 * samples.shape[1])


def decode_audio(
    source: str | Path | BinaryIO,
    settings: DecodeSettings = DEFAULT_SETTINGS,
    name: str | None = None,
) -> np.ndarray:
    """Mono (channel average) float32 samples of `source` at `settings.target_sampling_rate`.

    `source` is a path or a seekable binary file object; `name` is what messages call it
    (default: the path). Raises AudioDecodeError naming the file and the reason.
    """
    if isinstance(source, (str, Path)):
        name = name or str(source)
        try:
            with open(source, "rb") as handle:
                mono, rate = _read(handle, name)
        except OSError as error:
            raise AudioDecodeError(f"{name}: cannot read ({error.strerror or error})") from error
    else:
        mono, rate = _read(source, name or "<audio>")
    if rate != settings.target_sampling_rate:
        import torch

        with torch.inference_mode():
            mono = resample(torch.from_numpy(mono), rate, settings).numpy()
    return np.ascontiguousarray(mono, dtype=np.float32)
