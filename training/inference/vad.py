"""Voice activity: which windows hold speech, so that silence, noise and music get no emotion.

Silero VAD (the `silero-vad` wheel, MIT licence) ships its model inside the wheel and runs
offline on CPU with torch alone (its TorchScript model; onnxruntime is not needed). It gives a
speech probability per 32 ms frame (512 samples at 16 kHz). A window counts as speech when at
least half of its frames reach silero's own threshold (0.5): then the window's middle, which
its segment cell covers (training.inference.timeline), is mostly speech. Measured on speech with
pauses, silence, noise and music in BENCHMARKS.md (bench/bench_vad.py). Each window is examined
on its own samples, with fresh state, and windows run as one batch of parallel streams, which is
several times faster than one stream.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch

SPEECH_THRESHOLD = 0.5  # silero's default frame threshold
MIN_SPEECH_FRACTION = 0.5
# Frame sizes silero's model takes at the rates it supports.
_FRAME_SAMPLES = {16_000: 512, 8_000: 256}
VAD_CHOICES = ("silero", "none")


class SileroVad:
    """Silero's model, loaded once; `speech(windows)` says which windows hold speech."""

    def __init__(self, sampling_rate: int):
        if sampling_rate not in _FRAME_SAMPLES:
            raise ValueError(
                f"--vad silero works at 8 or 16 kHz, the model takes {sampling_rate} Hz; "
                "use --vad none to score every window"
            )
        from silero_vad import load_silero_vad

        with warnings.catch_warnings():
            # torch 2.14 deprecates torch.jit.load, which silero's loader uses.
            warnings.simplefilter("ignore", FutureWarning)
            self._model = load_silero_vad()
        self.sampling_rate = sampling_rate
        self._frame = _FRAME_SAMPLES[sampling_rate]

    @torch.inference_mode()
    def speech_fractions(self, windows: np.ndarray) -> np.ndarray:
        """Fraction of each row's frames that silero hears as speech; rows are equal-length
        windows (windows x samples), each a separate stream."""
        frames = max(windows.shape[1] // self._frame, 1)
        usable = np.zeros((windows.shape[0], frames * self._frame), dtype=np.float32)
        kept = min(windows.shape[1], usable.shape[1])
        usable[:, :kept] = windows[:, :kept]
        self._model.reset_states()
        batch = torch.from_numpy(usable)
        speech = np.zeros(windows.shape[0])
        for index in range(frames):
            chunk = batch[:, index * self._frame : (index + 1) * self._frame]
            probability = self._model(chunk, self.sampling_rate)[:, 0].numpy()
            speech += probability >= SPEECH_THRESHOLD
        return speech / frames

    def speech(self, windows: np.ndarray) -> np.ndarray:
        """Boolean per window: speech covers at least MIN_SPEECH_FRACTION of it."""
        return self.speech_fractions(windows) >= MIN_SPEECH_FRACTION


class NoVad:
    """`--vad none`: every window is scored as speech."""

    def speech(self, windows: np.ndarray) -> np.ndarray:
        return np.ones(windows.shape[0], dtype=bool)


def make_vad(choice: str, sampling_rate: int):
    if choice not in VAD_CHOICES:
        raise ValueError(f"--vad {choice}: choose one of {', '.join(VAD_CHOICES)}")
    return SileroVad(sampling_rate) if choice == "silero" else NoVad()
