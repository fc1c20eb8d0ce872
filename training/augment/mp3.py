"""MP3 coding at a chosen bitrate and back, for the `mp3@32k` evaluation condition: through
soundfile when this libsndfile writes MP3 (1.1+), else the ffmpeg command, else refused."""

from __future__ import annotations

import io
import shutil
import subprocess

import numpy as np
import soundfile

# MPEG Layer III constant bitrates (kbit/s) by sampling rate: libsndfile maps its compression
# level 0..1 linearly from the highest to the lowest of the rate's range.
_BITRATE_RANGES = ((32_000, (32, 320)), (16_000, (8, 160)), (0, (8, 64)))
NO_ENCODER = (
    "mp3: neither this libsndfile (soundfile) nor an ffmpeg command can write MP3; install "
    "ffmpeg or leave the mp3 condition out"
)


def soundfile_writes_mp3() -> bool:
    return "MP3" in soundfile.available_formats()


def mp3_encoder() -> str | None:
    """'soundfile', 'ffmpeg' or None (no way to code MP3 here)."""
    if soundfile_writes_mp3():
        return "soundfile"
    return "ffmpeg" if shutil.which("ffmpeg") else None


def _bitrate_range(rate: int) -> tuple[int, int]:
    return next(bounds for floor, bounds in _BITRATE_RANGES if rate >= floor)


def check_bitrate(rate: int, kbps: int) -> None:
    """ValueError in one line for a bitrate MP3 cannot carry at `rate`."""
    low, high = _bitrate_range(rate)
    if not low <= kbps <= high:
        raise ValueError(f"mp3@{kbps}k: at {rate} Hz MP3 bitrates run from {low}k to {high}k")


def _through_soundfile(signal: np.ndarray, rate: int, kbps: int) -> np.ndarray:
    check_bitrate(rate, kbps)
    low, high = _bitrate_range(rate)
    level = (high - kbps) / (high - low)
    buffer = io.BytesIO()
    soundfile.write(
        buffer,
        signal,
        rate,
        format="MP3",
        bitrate_mode="CONSTANT",
        compression_level=min(max(level, 0.0), 0.999),  # libsndfile refuses exactly 1.0
    )
    buffer.seek(0)
    decoded, _ = soundfile.read(buffer, dtype="float32")
    return decoded


def _through_ffmpeg(signal: np.ndarray, rate: int, kbps: int) -> np.ndarray:
    common = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "f32le", "-ar", str(rate)]
    encoded = subprocess.run(
        [*common, "-ac", "1", "-i", "pipe:0", "-b:a", f"{kbps}k", "-f", "mp3", "pipe:1"],
        input=np.ascontiguousarray(signal, dtype="<f4").tobytes(),
        capture_output=True,
        check=True,
    ).stdout
    decoded = subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-i", "pipe:0", "-f", "f32le", "-ac",
         "1", "-ar", str(rate), "pipe:1"],
        input=encoded,
        capture_output=True,
        check=True,
    ).stdout  # fmt: skip
    return np.frombuffer(decoded, dtype="<f4")


def mp3_roundtrip(signal: np.ndarray, rate: int, kbps: int, encoder: str) -> np.ndarray:
    """The clip coded as MP3 at `kbps` and decoded again, at its own length."""
    if encoder == "soundfile":
        decoded = _through_soundfile(signal, rate, kbps)
    elif encoder == "ffmpeg":
        decoded = _through_ffmpeg(signal, rate, kbps)
    else:
        raise ValueError(NO_ENCODER)
    out = np.zeros(len(signal), dtype=np.float32)
    out[: min(len(signal), len(decoded))] = decoded[: len(signal)]
    return out
