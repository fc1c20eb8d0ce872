"""Generated speech-like clips for tests that corrupt or score audio (augmentation, robustness)."""

from __future__ import annotations

import numpy as np

RATE = 16_000


def voiced(seconds: float = 1.0, pitch: float = 180.0, seed: int = 0) -> np.ndarray:
    """A voiced-like clip at 16 kHz: a tone with harmonics, a slow vibrato and a little noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    phase = 2 * np.pi * np.cumsum(pitch * (1 + 0.05 * np.sin(2 * np.pi * 4 * t))) / RATE
    clip = sum(np.sin(k * phase) / k for k in range(1, 6)) * 0.3
    return (clip + 0.005 * rng.standard_normal(len(t))).astype(np.float32)
