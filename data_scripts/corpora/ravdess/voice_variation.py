"""Harder synthetic voices: wider speaker differences, blurred emotion cues, background noise.

The sample archives' default voices differ by emotion far more than by speaker, so a small
model learns them almost perfectly and a learning benchmark on them cannot see a small
regression. A `VoiceVariation` widens what varies *within* an emotion (each speaker's pitch
and timbre, each utterance's pitch, tempo and recording level) and adds background noise at a
drawn signal-to-noise ratio, so that the recipe lands mid-range and differences between code
versions show. Its random draws come from generators of their own (seeded by the speaker or
the file name), so the default voices are unchanged bit for bit.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class VoiceVariation:
    """How far voices vary beyond the defaults; every field at 0 (or None) leaves them as
    they are. Speaker traits are fixed per speaker, the rest is drawn per utterance."""

    speaker_pitch_semitones: float = 0.0  # each speaker's pitch moved by up to +- this
    speaker_tilt: tuple[float, float] | None = None  # harmonic roll-off exponent per speaker
    pitch_jitter_semitones: float = 0.0  # each utterance's pitch moved by up to +- this
    rate_jitter: float = 0.0  # syllable rate scaled by a factor in [1/(1+j), 1+j]
    gain_db: float = 0.0  # recording level moved by up to +- this many dB
    noise_snr_db: tuple[float, float] | None = None  # background noise SNR range (dB)

    def is_default(self) -> bool:
        return self == VoiceVariation()


# The harder corpus of the learning benchmark: speakers' pitch spread over an octave (more than
# the emotions' own pitch differences), their timbre varied, tempo and level blurred, and
# brown-ish noise with mains hum at 3-15 dB SNR.
HARD = VoiceVariation(
    speaker_pitch_semitones=6.0,
    speaker_tilt=(0.7, 2.2),
    pitch_jitter_semitones=3.0,
    rate_jitter=0.35,
    gain_db=8.0,
    noise_snr_db=(3.0, 15.0),
)
PRESETS = {"default": VoiceVariation(), "hard": HARD}


def _generator(*parts) -> np.random.Generator:
    text = ":".join(str(part) for part in parts)
    return np.random.default_rng(
        int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
    )


@dataclass(frozen=True)
class VoiceDraw:
    """One utterance's draws: factors applied to the default voice's parameters."""

    pitch: float = 1.0
    rate: float = 1.0
    gain: float = 1.0
    tilt: float = 1.2
    snr_db: float | None = None


def draw(variation: VoiceVariation, speaker: int, key: str, seed: int) -> VoiceDraw:
    """The speaker's traits and the utterance `key`'s jitter, reproducible from their names."""
    traits = _generator("speaker", seed, speaker)
    speaker_shift = traits.uniform(-1, 1) * variation.speaker_pitch_semitones
    tilt = traits.uniform(*variation.speaker_tilt) if variation.speaker_tilt else 1.2
    utterance = _generator("utterance", seed, key)
    shift = speaker_shift + utterance.uniform(-1, 1) * variation.pitch_jitter_semitones
    rate = (1 + variation.rate_jitter) ** utterance.uniform(-1, 1)
    gain = 10 ** (utterance.uniform(-1, 1) * variation.gain_db / 20)
    snr = utterance.uniform(*variation.noise_snr_db) if variation.noise_snr_db else None
    return VoiceDraw(2 ** (shift / 12), rate, gain, tilt, snr)


def add_background(
    audio: np.ndarray, snr_db: float | None, key: str, seed: int, sampling_rate: int
) -> np.ndarray:
    """`audio` plus brown-ish noise and a 50 Hz hum with harmonics at `snr_db` below the
    voice's power (a room and a cheap microphone, not white noise a model ignores easily)."""
    if snr_db is None or audio.size == 0:
        return audio
    rng = _generator("noise", seed, key)
    white = rng.standard_normal(audio.size)
    brown = np.cumsum(white)
    brown -= np.convolve(brown, np.ones(401) / 401, mode="same")  # drop the drift, keep rumble
    t = np.arange(audio.size) / sampling_rate
    hum = sum(np.sin(2 * np.pi * 50 * k * t + rng.uniform(0, 2 * np.pi)) / k for k in (1, 2, 3))
    background = brown / (brown.std() + 1e-12) + 0.5 * hum + 0.3 * white
    voice_power = float(np.mean(audio.astype(np.float64) ** 2))
    scale = np.sqrt(voice_power / 10 ** (snr_db / 10) / np.mean(background**2))
    return audio + scale * background
