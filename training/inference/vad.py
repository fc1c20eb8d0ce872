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

from training.inference.choices import VAD_CHOICES

SPEECH_THRESHOLD = 0.5  # silero's default frame threshold
MIN_SPEECH_FRACTION = 0.5
LANE_SECONDS, WARMUP_SECONDS = 4.0, 1.0
# Frame sizes silero's model takes at the rates it supports.
_FRAME_SAMPLES = {16_000: 512, 8_000: 256}


class SileroVad:
    """Silero's model, loaded once; `speech(windows)` says which windows hold speech."""

    def __init__(self, sampling_rate: int):
        if sampling_rate not in _FRAME_SAMPLES:
            raise ValueError(
                f"--vad silero works at 8 or 16 kHz, the model takes {sampling_rate} Hz; "
                "use --vad none to score every window"
            )
        # Importing silero_vad calls torch.set_num_threads(1) for the whole process, which
        # would leave the classifier one core however many the machine has: undo it.
        threads = torch.get_num_threads()
        try:
            from silero_vad import load_silero_vad

            with warnings.catch_warnings():
                # torch 2.14 deprecates torch.jit.load, which silero's loader uses.
                warnings.simplefilter("ignore", FutureWarning)
                self._model = load_silero_vad()
        finally:
            torch.set_num_threads(threads)
        self.sampling_rate = sampling_rate
        self._frame = self.frame_samples = _FRAME_SAMPLES[sampling_rate]

    @torch.inference_mode()
    def speech_frames(self, samples: np.ndarray) -> np.ndarray:
        """Per 32 ms frame of `samples`: does silero hear speech. The stretch runs as parallel
        lanes of LANE_SECONDS, each first fed the WARMUP_SECONDS before it (silero needs that
        much context: a fresh stream misses speech it is started in the middle of)."""
        frame = self._frame
        frames = -(-len(samples) // frame)
        lane = round(LANE_SECONDS * self.sampling_rate / frame)
        warm = round(WARMUP_SECONDS * self.sampling_rate / frame)
        lanes = -(-frames // lane)
        padded = np.zeros((warm + lanes * lane) * frame, dtype=np.float32)
        padded[warm * frame : warm * frame + len(samples)] = samples
        # Lane i reads frames [i*lane, (i+1)*lane) after its warm-up (zeros before the start).
        batch = np.stack(
            [padded[i * lane * frame : ((i + 1) * lane + warm) * frame] for i in range(lanes)]
        )
        return self.run_lanes(batch)[:, warm:].reshape(-1)[:frames]

    @torch.inference_mode()
    def continue_lane(self, samples: np.ndarray, state=None) -> tuple[np.ndarray, tuple]:
        """One lane's answers for `samples` (whole frames), carrying on from `state` (None: a
        fresh lane), and the state after them. A frame's answer depends only on its lane's
        frames up to it, so the live stream (training.serving) reproduces `speech_frames`'
        answers from the samples heard so far, computing each frame once."""
        if state is None:
            self._model.reset_states()
        else:
            self._model._state, self._model._context = state
        heard = self.run_lanes(samples[None, :], fresh=False)[0]
        return heard, (self._model._state, self._model._context)

    @torch.inference_mode()
    def run_lanes(self, batch: np.ndarray, fresh: bool = True) -> np.ndarray:
        """Per lane (a row of whole frames, warm-up included) and frame: speech or not. Lanes
        run as parallel streams from a fresh state (`fresh`) or the model's current one."""
        if fresh:
            self._model.reset_states()
        tensor = torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32))
        steps = batch.shape[1] // self._frame
        heard = np.zeros((len(batch), steps), dtype=bool)
        # Silero's small steps run 1.6x faster on one thread than on two (BENCHMARKS.md).
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            for index in range(steps):
                chunk = tensor[:, index * self._frame : (index + 1) * self._frame]
                heard[:, index] = (
                    self._model(chunk, self.sampling_rate)[:, 0].numpy() >= SPEECH_THRESHOLD
                )
        finally:
            torch.set_num_threads(threads)
        return heard

    def speech(self, stretch: np.ndarray, offsets: list[int], size: int) -> np.ndarray:
        """Per window (`size` samples from each of `offsets` into `stretch`): does speech cover
        at least MIN_SPEECH_FRACTION of it (frames counted by their middles)."""
        return self.speech_fractions(stretch, offsets, size)[0] >= MIN_SPEECH_FRACTION

    def speech_fractions(
        self, stretch: np.ndarray, offsets: list[int], size: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """(per window: the share of its frames heard as speech, frame middles and speech per
        frame of `stretch`). The frames let a caller measure the speech share of any span."""
        heard = self.speech_frames(stretch)
        middles = (np.arange(len(heard)) + 0.5) * self._frame
        fractions = []
        for offset in offsets:
            inside = (middles >= offset) & (middles < offset + size)
            fractions.append(heard[inside].mean() if inside.any() else 0.0)
        return np.array(fractions, dtype=np.float64), np.stack([middles, heard])


class NoVad:
    """`--vad none`: every window is scored as speech; speech shares are not measured."""

    def speech(self, stretch: np.ndarray, offsets: list[int], size: int) -> np.ndarray:
        return np.ones(len(offsets), dtype=bool)

    def speech_fractions(
        self, stretch: np.ndarray, offsets: list[int], size: int
    ) -> tuple[np.ndarray, None]:
        return np.ones(len(offsets), dtype=np.float64), None


def make_vad(choice: str, sampling_rate: int):
    if choice not in VAD_CHOICES:
        raise ValueError(f"--vad {choice}: choose one of {', '.join(VAD_CHOICES)}")
    return SileroVad(sampling_rate) if choice == "silero" else NoVad()
