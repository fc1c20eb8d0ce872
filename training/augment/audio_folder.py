"""A folder of the user's recordings used as a source of corruption: noise (e.g. MUSAN) or room
impulse responses. Files are listed once and read on demand, an excerpt at a time, so a folder
of hours of noise costs no memory and every DataLoader worker reads its own excerpts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile
import torch
import torchaudio.functional as audio_functional

# What soundfile (libsndfile) reads; other files in the folder are ignored.
READABLE = (".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif")


class AudioFolder:
    """The readable audio files under `folder` (recursively), in a fixed (sorted) order so a
    seed picks the same file on every machine. `flag` names the option in refusals."""

    def __init__(self, folder: str | Path, flag: str):
        self.folder = Path(folder)
        self.flag = flag
        if not self.folder.is_dir():
            raise ValueError(f"{flag} {folder}: no such folder")
        self.files = sorted(
            path
            for path in self.folder.rglob("*")
            if path.is_file() and path.suffix.lower() in READABLE
        )
        if not self.files:
            raise ValueError(
                f"{flag} {folder}: no audio files ({', '.join(READABLE)}) in it; give a folder "
                "of recordings or leave the flag out"
            )

    def _read(self, path: Path, rate: int, start: int = 0, frames: int = -1) -> np.ndarray:
        try:
            with soundfile.SoundFile(path) as handle:
                source_rate = handle.samplerate
                handle.seek(start)
                samples = handle.read(frames, dtype="float32", always_2d=True)
        except (OSError, RuntimeError, soundfile.LibsndfileError) as error:
            raise ValueError(f"{self.flag}: cannot read {path} ({error})") from error
        mono = torch.from_numpy(np.ascontiguousarray(samples.mean(axis=1)))
        if source_rate != rate:
            mono = audio_functional.resample(mono, source_rate, rate)
        return mono.numpy()

    def pick(self, rng: np.random.Generator) -> Path:
        return self.files[int(rng.integers(len(self.files)))]

    def excerpt(self, length: int, rate: int, rng: np.random.Generator) -> np.ndarray:
        """`length` samples at `rate` from a random place of a random file (repeated when the
        file is shorter)."""
        path = self.pick(rng)
        try:
            info = soundfile.info(str(path))
        except (OSError, RuntimeError, soundfile.LibsndfileError) as error:
            raise ValueError(f"{self.flag}: cannot read {path} ({error})") from error
        needed = int(np.ceil(length * info.samplerate / rate)) + 1
        start = int(rng.integers(0, max(info.frames - needed, 0) + 1))
        samples = self._read(path, rate, start, needed)
        if len(samples) == 0:
            raise ValueError(f"{self.flag}: {path} holds no samples")
        repeats = -(-length // len(samples))
        return np.tile(samples, repeats)[:length]

    def whole(self, rate: int, rng: np.random.Generator) -> np.ndarray:
        """A random file, whole, at `rate` (impulse responses are short)."""
        path = self.pick(rng)
        samples = self._read(path, rate)
        if len(samples) == 0 or not np.any(samples):
            raise ValueError(f"{self.flag}: {path} holds no impulse (silent or empty)")
        return samples
