"""Deterministic offline sample of RAVDESS: the same archive names and layout, synthetic voices.

The audio is voiced (a harmonic source with vibrato, syllable-rate envelopes and a little
noise) and its pitch, loudness and tempo depend on the emotion and intensity, so that a
classifier can learn something real from it. Each actor has a pitch of their own (lower
for men). 48 kHz, 16-bit PCM, and a few stereo files, like the real corpus. Tests and
`make demo` feed these archives through the same download and build code as real data.

    python -m data_scripts.sample_archives --output_dir sample_archives --actors 1-8
"""

from __future__ import annotations

import argparse
import hashlib
import io
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from data_scripts.common.atomic_write import atomic_output
from data_scripts.corpora.ravdess.facts import (
    ARCHIVES,
    EMOTIONS,
    SOURCE_SAMPLING_RATE,
    file_names_for_actor,
    parse_file_name,
)

# Per emotion: (pitch factor, loudness, syllables per second, pitch wobble in semitones).
# Chosen so that classes differ in the cues real emotional speech uses.
EMOTION_PROSODY = {
    "neutral": (1.00, 0.25, 3.5, 0.5),
    "calm": (0.90, 0.18, 2.5, 0.3),
    "happy": (1.30, 0.45, 5.0, 2.5),
    "sad": (0.80, 0.12, 2.0, 0.8),
    "angry": (1.20, 0.70, 6.0, 1.5),
    "fearful": (1.45, 0.35, 6.5, 3.5),
    "disgust": (0.85, 0.40, 3.0, 1.0),
    "surprised": (1.60, 0.55, 4.0, 5.0),
    "boredom": (0.85, 0.15, 2.2, 0.3),  # EmoDB's L: low, slow, flat
}
# The real corpus has six stereo files; the sample makes every file whose name hashes to 0
# modulo this number stereo, so a handful per archive are.
STEREO_EVERY = 23
# The zip comment of every sample archive: only such a file may be overwritten, so real
# archives kept in the same folder are never replaced by synthetic ones. It names the module's
# old path and stays so: archives written before the move carry it (and their MD5s depend on it).
SAMPLE_COMMENT = b"synthetic RAVDESS sample written by data_scripts.sample_archives"


@dataclass(frozen=True)
class SampleArchive:
    path: Path
    size: int
    md5: str
    audio_type: str
    files: int


def _seed(file_name: str, seed: int) -> int:
    return int.from_bytes(hashlib.sha256(f"{seed}:{file_name}".encode()).digest()[:8], "little")


def synthesize(file_name: str, seconds: tuple[float, float], seed: int = 0) -> np.ndarray:
    """One utterance for a RAVDESS file name: float32 in [-1, 1], (samples,) or (samples, 2)."""
    name = parse_file_name(file_name)
    rng = np.random.default_rng(_seed(file_name, seed))
    male, strong = name.gender == "male", name.intensity == "strong"
    audio = _voice(rng, name.emotion, male, name.actor, seconds, strong, SOURCE_SAMPLING_RATE)
    if _seed(file_name, seed) % STEREO_EVERY == 0:
        right = np.clip(audio * 0.8 + rng.normal(0, 0.005, audio.size), -1, 1).astype(np.float32)
        audio = np.stack([audio, right], axis=1)
    return audio


def voice(
    key: str,
    emotion: str,
    male: bool,
    speaker: int,
    seconds: tuple[float, float],
    seed: int = 0,
    strong: bool = False,
    sampling_rate: int = SOURCE_SAMPLING_RATE,
) -> np.ndarray:
    """One mono utterance of `emotion` (a shared English name) for speaker number `speaker`:
    float32 in [-1, 1]; `key` (a file name) seeds its randomness. Other corpora's samples use it
    at their own rates."""
    rng = np.random.default_rng(_seed(key, seed))
    return _voice(rng, emotion, male, speaker, seconds, strong, sampling_rate)


def _voice(rng, emotion, male, speaker, seconds, strong, sampling_rate) -> np.ndarray:
    pitch_factor, loudness, syllable_rate, wobble = EMOTION_PROSODY[emotion]
    if strong:
        loudness *= 1.5
        wobble *= 1.4
    base_f0 = (110.0 if male else 200.0) * (1 + 0.04 * (speaker % 5))
    sr = sampling_rate
    duration = rng.uniform(*seconds)
    t = np.arange(int(duration * sr)) / sr
    # Pitch contour: emotion level, a slow glide, vibrato and per-utterance jitter.
    glide = np.linspace(0.0, rng.uniform(-2, 2), t.size)
    vibrato = wobble * np.sin(2 * np.pi * rng.uniform(4, 7) * t)
    f0 = base_f0 * pitch_factor * 2 ** ((glide + vibrato) / 12) * rng.uniform(0.97, 1.03)
    phase = 2 * np.pi * np.cumsum(f0) / sr
    harmonics = sum(np.sin(k * phase) / k**1.2 for k in range(1, 9))
    # Syllables: a raised-cosine envelope at the emotion's tempo, with pauses.
    syllables = 0.5 * (1 - np.cos(2 * np.pi * syllable_rate * t * rng.uniform(0.9, 1.1)))
    onset, offset = int(0.15 * sr), int(0.2 * sr)
    envelope = np.zeros_like(t)
    envelope[onset : t.size - offset] = syllables[onset : t.size - offset] ** 1.5
    noise = rng.normal(0, 0.01, t.size)
    audio = loudness * envelope * harmonics / 3.0 + noise
    return np.clip(audio, -1.0, 1.0).astype(np.float32)


def write_voice_file(path: Path | str, emotion: str, male: bool, speaker: int, **options) -> Path:
    """`voice(...)` written as 16-bit PCM WAV at `path` (its name seeds the voice)."""
    path = Path(path)
    rate = options.get("sampling_rate", SOURCE_SAMPLING_RATE)
    seconds = options.pop("seconds", (0.8, 1.2))
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, voice(path.name, emotion, male, speaker, seconds, **options), rate, "PCM_16")
    return path


def _wav_bytes(audio: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, audio, SOURCE_SAMPLING_RATE, subtype="PCM_16", format="WAV")
    return buffer.getvalue()


def write_sample_archives(
    output_dir: Path | str,
    actors=range(1, 5),
    seconds: tuple[float, float] = (1.0, 1.6),
    emotions: tuple[str, ...] = EMOTIONS,
    seed: int = 0,
) -> dict[str, SampleArchive]:
    """Write the speech and song archives for `actors`; returns their paths, sizes and MD5s."""
    output_dir = Path(output_dir)
    for archive in ARCHIVES:
        path = output_dir / archive.file_name
        if path.exists() and not _is_sample(path):
            raise ValueError(
                f"{path}: exists and is not a sample archive (a real download?); refusing to "
                "overwrite it: choose another --output_dir"
            )
    output_dir.mkdir(parents=True, exist_ok=True)
    result = {}
    for archive in ARCHIVES:
        path = output_dir / archive.file_name
        files = 0
        with (
            atomic_output(path) as temporary,
            zipfile.ZipFile(temporary, "w", zipfile.ZIP_DEFLATED) as zf,
        ):
            zf.comment = SAMPLE_COMMENT
            for actor in actors:
                folder = f"Actor_{actor:02d}/"
                zf.writestr(zipfile.ZipInfo(folder), b"")  # the real zips carry directory entries
                for file_name in file_names_for_actor(actor, archive.audio_type):
                    if parse_file_name(file_name).emotion not in emotions:
                        continue
                    audio = synthesize(file_name, seconds, seed)
                    zf.writestr(folder + file_name, _wav_bytes(audio))
                    files += 1
        data = path.read_bytes()
        result[archive.audio_type] = SampleArchive(
            path, len(data), hashlib.md5(data).hexdigest(), archive.audio_type, files
        )
    return result


def _is_sample(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as archive:
            return archive.comment == SAMPLE_COMMENT
    except (zipfile.BadZipFile, OSError):
        return False


def parse_actor_range(text: str) -> list[int]:
    """'1-8' or '1,2,5' or '1-4,9' -> a sorted list of actor numbers."""
    actors: set[int] = set()
    for part in text.split(","):
        low, _, high = part.partition("-")
        actors.update(range(int(low), int(high or low) + 1))
    return sorted(actors)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--output_dir", default="sample_archives")
    parser.add_argument("--actors", default="1-4", help="actor numbers, e.g. 1-8 or 1,2,5")
    parser.add_argument("--min_seconds", type=float, default=1.0)
    parser.add_argument("--max_seconds", type=float, default=1.6)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        archives = write_sample_archives(
            args.output_dir,
            parse_actor_range(args.actors),
            (args.min_seconds, args.max_seconds),
            seed=args.seed,
        )
    except ValueError as error:
        parser.exit(1, f"error: {error}\n")
    for archive in archives.values():
        print(f"{archive.path}  {archive.files} files  {archive.size} bytes  md5 {archive.md5}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
