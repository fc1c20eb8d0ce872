"""A generated corpus whose continuous targets are known functions of the audio, for the
regression learning benchmark and the tests of regression and multitask heads.

Each clip is a harmonic voice with syllable-like bursts over a fixed noise floor:
- arousal (1..5) raises the pitch (a third of an octave per step above the speaker's own) and
  the loudness over the noise floor;
- valence (-1..1) sets the spectral tilt: bright (strong upper harmonics) for positive.
Speakers differ in their own pitch, tempo and the clips' lengths, so held-out speakers test
whether a model learned the cues rather than the voices. A label (low/high arousal) is there too
for multitask runs.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import soundfile as sf

RATE = 16_000


def dimension_voice(rng, arousal: float, valence: float, speaker_pitch: float) -> np.ndarray:
    seconds = rng.uniform(0.6, 0.9)
    t = np.arange(int(seconds * RATE)) / RATE
    f0 = speaker_pitch * 2 ** ((arousal - 3) / 3) * (1 + 0.01 * np.sin(2 * np.pi * 5 * t))
    phase = 2 * np.pi * np.cumsum(f0) / RATE
    tilt = 2.2 - 1.6 * (valence + 1) / 2  # 2.2 (dark) .. 0.6 (bright)
    harmonics = sum(np.sin(k * phase) / k**tilt for k in range(1, 12))
    harmonics /= np.abs(harmonics).max()
    envelope = 0.5 * (1 - np.cos(2 * np.pi * rng.uniform(2.5, 4.0) * t))
    loudness = 0.05 * 2 ** (arousal - 1)  # 0.05 .. 0.8 over a 0.02 noise floor
    audio = loudness * envelope * harmonics + rng.normal(0, 0.02, t.size)
    return np.clip(audio, -1, 1).astype(np.float32)


def write_dimension_corpus(folder: Path, speakers: int = 10, clips: int = 24, seed: int = 0):
    """WAVs and `manifest.csv` (path, speaker, label, arousal, valence) under `folder`."""
    folder = Path(folder)
    rng = np.random.default_rng(seed)
    rows = []
    for speaker in range(speakers):
        pitch = 140.0 * (1 + 0.05 * (speaker % 5))
        for clip in range(clips):
            arousal = round(float(rng.uniform(1, 5)), 3)
            valence = round(float(rng.uniform(-1, 1)), 3)
            name = f"s{speaker:02d}/clip{clip:02d}.wav"
            path = folder / name
            path.parent.mkdir(parents=True, exist_ok=True)
            sf.write(path, dimension_voice(rng, arousal, valence, pitch), RATE, "PCM_16")
            label = "angry" if arousal >= 3 else "sad"
            rows.append([name, f"s{speaker:02d}", label, arousal, valence])
    with open(folder / "manifest.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["path", "speaker", "label", "arousal", "valence"])
        writer.writerows(rows)
    return folder / "manifest.csv"
