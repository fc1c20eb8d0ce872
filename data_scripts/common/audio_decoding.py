"""Decode one audio file to mono float32 at a fixed rate: soundfile, channel average, torchaudio.

The settings live in one frozen dataclass, `DecodeSettings`: the dataset builder puts them in its
cache fingerprint, the training script saves them beside the model, and predict reads them back,
so that a clip is decoded the same way in training and in prediction. The resampling kernel is
built once per (source rate, settings) in each process and reused, and clips are zero-extended to
a few shared lengths before resampling (see `resample`); the samples are those of
`torchaudio.functional.resample`, which rebuilds the kernel on every call.

Faults a decoder must not hide are refused with `AudioDecodeError`, one line naming the file:
undecodable bytes, a header declaring more frames than the file holds (a cut download or copy:
`declared_length`), a file with no samples, a sample rate no recording uses (a crafted header:
rates sharing no factor with 16 kHz made torchaudio build a table of gigabytes), NaN or
infinite samples, samples too large to be audio, and (whole-file decoding only) a file too long
to decode in memory.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import numpy as np
import soundfile as sf

from data_scripts.common.declared_length import declared_frames

if TYPE_CHECKING:
    import torch
    import torchaudio.transforms as audio_transforms
# torch and torchaudio (1.5 s to import) load when a file needs resampling: a prepare command
# whose build is cached decodes nothing and never needs them.

# The rate every prepared dataset is decoded to: the input rate of wav2vec2 models.
TARGET_SAMPLING_RATE = 16_000
# Sample rates of real recordings: below 1 kHz nothing of speech is left, above 768 kHz no
# converter records. A header claiming another rate is damaged or crafted: 1 Hz would turn a
# small file into hours of 16 kHz audio.
MIN_SAMPLING_RATE, MAX_SAMPLING_RATE = 1_000, 768_000
# Float audio is scaled to +-1, and floats holding integer samples reach 2^31. Larger values are
# no recording; from about 1e19, the feature extractor's per-clip variance overflows float32 and
# the normalised clip becomes all zeros (a file scaled by 1e20 was `no speech`, or `happy 0.979`).
MAX_SAMPLE_MAGNITUDE = 1e10
# Whole-file decoding (datasets, not predict, which reads stretches) holds about five copies of
# the file's samples at once (read, downmix, padding, filtering): 2^26 samples (frames x
# channels) is at most 1.3 GB, 23 minutes of 48 kHz stereo or 70 minutes of 16 kHz mono. Emotion
# corpora hold clips of seconds; a 4 GB recording used to need 20 GB and die naming nothing.
MAX_WHOLE_FILE_SAMPLES = 1 << 26
# torchaudio's resampling table (up x (2 * width + down) float32 taps) is used up to this size,
# which every common rate stays far below (11.025 kHz, the largest: 640 x 455); beyond it,
# `sinc_resampling` computes the same filter per output sample.
MAX_RESAMPLING_TABLE = 1 << 22


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
    width = math.ceil(settings.lowpass_filter_width * down / (min(up, down) * settings.rolloff))
    if up * (2 * width + down) > MAX_RESAMPLING_TABLE:
        from data_scripts.common.sinc_resampling import sinc_resample

        return sinc_resample(
            mono, up, down, kept, settings.lowpass_filter_width, settings.rolloff,
            settings.resampling_method,
        )  # fmt: skip
    extended = torch.nn.functional.pad(mono, (0, padded_length(frames) - frames))
    return resampler(source_rate, settings)(extended)[:kept]


def check_opened(sound: sf.SoundFile, declared: int | None, name: str) -> None:
    """AudioDecodeError naming the file for what its header alone reveals: a rate no recording
    uses, fewer frames than the header declares (`declared_length.declared_frames`), none."""
    rate = sound.samplerate
    if not MIN_SAMPLING_RATE <= rate <= MAX_SAMPLING_RATE:
        raise AudioDecodeError(
            f"{name}: sample rate {rate} Hz is outside {MIN_SAMPLING_RATE}-{MAX_SAMPLING_RATE} Hz, "
            "which no recording uses: the header is damaged; export the file again"
        )
    if declared is not None and declared > sound.frames:
        raise AudioDecodeError(
            f"{name}: truncated: header declares {declared} frames, file holds {sound.frames}"
        )
    if sound.frames == 0:
        raise AudioDecodeError(f"{name}: holds no audio samples")


def _read(handle: BinaryIO, name: str) -> tuple[np.ndarray, int]:
    """(mono float32 samples, rate); AudioDecodeError for what `check_opened` refuses, a file
    too long to decode whole, one whose frames run out early, or impossible samples."""
    declared = declared_frames(handle)
    try:
        with sf.SoundFile(handle) as sound:
            check_opened(sound, declared, name)
            rate, frames = sound.samplerate, sound.frames
            if frames * sound.channels > MAX_WHOLE_FILE_SAMPLES:
                raise AudioDecodeError(
                    f"{name}: too long to decode whole: {frames / rate / 60:.1f} minutes at "
                    f"{rate} Hz in {sound.channels} channel(s) hold {frames * sound.channels} "
                    f"samples, above the limit of {MAX_WHOLE_FILE_SAMPLES}: cut it into clips, "
                    "or classify it with ser-predict, which reads long recordings in stretches"
                )
            if sound.subtype == "PCM_16":
                mono = _pcm16_mono(sound.read(dtype="int16", always_2d=True))
            else:
                mono = _mono(sound.read(dtype="float32", always_2d=True))
                refuse_impossible_samples(mono, name, 0, rate)
    except (sf.LibsndfileError, RuntimeError) as error:
        raise AudioDecodeError(f"{name}: cannot decode audio ({error})") from error
    if len(mono) < frames:
        raise AudioDecodeError(f"{name}: ends early: {len(mono)} of {frames} frames readable")
    return mono, rate


def refuse_impossible_samples(mono: np.ndarray, name: str, first_frame: int, rate: int) -> None:
    """Float files can hold NaN or infinite samples (a damaged export or a broken effect chain),
    or values no recording holds (above MAX_SAMPLE_MAGNITUDE). One NaN sample makes every
    training loss NaN, and with it every weight of the model; a huge one makes the normalised
    clip zeros. Either is refused naming the file and the time. Integer PCM cannot hold them."""
    if not len(mono):
        return
    # Two reductions without a temporary (np.abs would allocate the clip again); NaN propagates.
    peak = max(float(mono.max()), -float(mono.min()))
    if peak <= MAX_SAMPLE_MAGNITUDE:  # False for NaN too
        return
    finite = np.isfinite(mono)
    if not finite.all():
        seconds = (first_frame + int(np.argmin(finite))) / rate
        raise AudioDecodeError(
            f"{name}: holds NaN or infinite samples (the first at {seconds:.3f} s): the file is "
            "damaged; export it again or leave it out"
        )
    seconds = (first_frame + int(np.argmax(np.abs(mono) > MAX_SAMPLE_MAGNITUDE))) / rate
    raise AudioDecodeError(
        f"{name}: holds samples of magnitude {peak:.3g} (the first at {seconds:.3f} s), where "
        f"audio stays within +-1 (at most {MAX_SAMPLE_MAGNITUDE:.0e}): the file is damaged or "
        "mis-scaled; export it again or leave it out"
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
