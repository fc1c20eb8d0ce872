"""Evaluation conditions (`ser-evaluate --conditions clean,noise@10,reverb,telephone,mp3@32k`):
parsed, checked before any scoring, and applied to each test clip deterministically: a clip's
corruption depends only on --seed, the condition and the file's name, never on batch or order.

    clean       the audio as prepared
    noise@SNR   noise at SNR dB (from --noise_dir, else pink noise)
    reverb      a room (from --rir_dir, else a simulated room with RT60 0.5 s)
    telephone   300-3400 Hz, a narrow-band phone line
    mp3@Nk      MP3 coded at N kbit/s and decoded
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass

import numpy as np

from training.augment import transforms
from training.augment.audio_folder import AudioFolder
from training.augment.mp3 import NO_ENCODER, check_bitrate, mp3_encoder, mp3_roundtrip

KNOWN = "clean, noise@SNR (dB, e.g. noise@10), reverb, telephone, mp3@BITRATE (e.g. mp3@32k)"
EVALUATION_RT60 = 0.5  # seconds: a furnished meeting room
_PATTERN = re.compile(r"^(clean|reverb|telephone|noise@(-?\d+(?:\.\d+)?)|mp3@(\d+)k)$")


@dataclass(frozen=True)
class Condition:
    name: str  # as the user wrote it: the folder and table name
    kind: str  # clean, noise, reverb, telephone, mp3
    value: float | None = None  # the SNR in dB, or the bitrate in kbit/s


def parse_conditions(text: str) -> list[Condition]:
    """The comma-separated conditions, in order, without repeats; ValueError in one line for an
    unknown one or an MP3 that nothing here can write."""
    conditions: list[Condition] = []
    for name in (part.strip() for part in text.split(",")):
        match = _PATTERN.match(name)
        if not match:
            raise ValueError(f"--conditions: unknown condition {name!r}; known: {KNOWN}")
        if any(c.name == name for c in conditions):
            continue
        if match.group(2) is not None:
            conditions.append(Condition(name, "noise", float(match.group(2))))
        elif match.group(3) is not None:
            if mp3_encoder() is None:
                raise ValueError(NO_ENCODER)
            conditions.append(Condition(name, "mp3", float(match.group(3))))
        else:
            conditions.append(Condition(name, name))
    return conditions


class Corruptor:
    """Applies conditions to clips at `rate`, noise and rooms from the folders when given
    (checked when made: a missing or empty folder is refused in one line)."""

    def __init__(
        self, rate: int, seed: int = 0, noise_dir: str | None = None, rir_dir: str | None = None
    ):
        self.rate = rate
        self.seed = seed
        self.noise = AudioFolder(noise_dir, "--noise_dir") if noise_dir else None
        self.rooms = AudioFolder(rir_dir, "--rir_dir") if rir_dir else None
        self.encoder = mp3_encoder()

    def check(self, conditions: list[Condition]) -> None:
        """Refuse, before any scoring, what cannot be applied at this rate."""
        for condition in conditions:
            if condition.kind == "mp3":
                check_bitrate(self.rate, int(condition.value))

    def source(self, condition: Condition) -> str | None:
        """Where the condition's noise, room or coder comes from (for the results)."""
        if condition.kind == "noise":
            return f"folder {self.noise.folder}" if self.noise else "generated pink noise"
        if condition.kind == "reverb":
            if self.rooms:
                return f"folder {self.rooms.folder}"
            return f"simulated room, RT60 {EVALUATION_RT60:g} s"
        if condition.kind == "mp3":
            return f"{self.encoder} MP3 coder"
        if condition.kind == "telephone":
            return "300-3400 Hz band"
        return None

    def rng(self, condition: Condition, key: str) -> np.random.Generator:
        """The clip's own stream: --seed, the condition and the file's name."""
        digest = zlib.crc32(f"{condition.name}\0{key}".encode())
        return np.random.default_rng([self.seed, digest])

    def __call__(self, signal: np.ndarray, condition: Condition, key: str) -> np.ndarray:
        signal = np.asarray(signal, dtype=np.float32)
        rng = self.rng(condition, key)
        if condition.kind == "clean":
            return signal
        if condition.kind == "noise":
            if self.noise is not None:
                noise = self.noise.excerpt(len(signal), self.rate, rng)
            else:
                pink = transforms.NOISE_COLOURS["pink"]
                noise = transforms.coloured_noise(len(signal), pink, rng)
            return transforms.add_noise(signal, noise, condition.value)
        if condition.kind == "reverb":
            if self.rooms is not None:
                room = self.rooms.whole(self.rate, rng)
            else:
                room = transforms.simulated_room(self.rate, EVALUATION_RT60, rng)
            return transforms.reverberate(signal, room)
        if condition.kind == "telephone":
            return transforms.telephone(signal, self.rate)
        return mp3_roundtrip(signal, self.rate, int(condition.value), self.encoder)
