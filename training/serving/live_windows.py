"""A signal that arrives piece by piece, scored window by window as soon as each window is
heard, with the very windows and speech decisions `ser-predict --timeline` gives the recording.

Predict (training.inference.windows) places windows every hop from 0, adds one ending at the
file's end when the last regular window stops short of it (one window of the file's own length
for a file shorter than a window), and asks the voice-activity detector about groups of
STRETCH_WINDOWS windows at once: each group's stretch, from a second before its first window,
runs through silero as lanes of LANE_SECONDS, each lane warmed up on the second before it. A
frame's answer depends only on its lane's samples up to that frame (silero is causal), so a
window's answer is known here once the samples up to its last frame (at most half a frame past
its end) have arrived: the same lanes are run on what has been heard. Only the current group's
stretch is kept, so memory stays flat however long the stream runs.
"""

from __future__ import annotations

import numpy as np

from training.inference.timeline import window_row
from training.inference.vad import LANE_SECONDS, WARMUP_SECONDS
from training.inference.windows import STRETCH_WINDOWS


class LiveWindows:
    """Feed samples at the model's rate; get back each window's row (timeline.window_row) as
    soon as it can be scored, and the last ones from `finish` when the stream ends. `scorer` is
    an EmotionClassifier (or anything with its sampling_rate, labels, too_short and
    probabilities); `vad` is predict's detector (training.inference.vad.make_vad)."""

    def __init__(self, scorer, vad, window: int, hop: int):
        if not 0 < hop <= window:
            raise ValueError(f"need 0 < hop <= window, got hop {hop}, window {window} samples")
        if scorer.too_short(window):
            raise ValueError(
                f"windows of {window} samples are too short for the model; set a longer "
                "--window_seconds"
            )
        self.scorer, self.vad = scorer, vad
        self.window, self.hop = window, hop
        self.rate = scorer.sampling_rate
        self.total = 0  # samples heard
        self.emitted = 0  # regular windows scored
        self._context = round(WARMUP_SECONDS * self.rate)
        self._chunks: list[np.ndarray] = []
        self._buffer = np.zeros(0, dtype=np.float32)
        self._origin = 0  # the stream position of _buffer[0]
        self._lanes: dict[tuple[int, int], np.ndarray] = {}
        self._silero = hasattr(vad, "run_lanes")
        if self._silero:
            frame = vad.frame_samples
            self._frame = frame
            self._lane = round(LANE_SECONDS * self.rate / frame)
            self._warm = round(WARMUP_SECONDS * self.rate / frame)

    # -- the window grid --------------------------------------------------------------------

    def _group_start(self, first_start: int) -> int:
        """Where the stretch of a group whose first window starts at `first_start` begins."""
        return first_start - min(first_start, self._context)

    def _regular(self, index: int) -> tuple[int, int, int]:
        """(start, stretch start, the stretch's end when its group is full) of window `index`."""
        group = index // STRETCH_WINDOWS
        first = group * STRETCH_WINDOWS * self.hop
        last = (group * STRETCH_WINDOWS + STRETCH_WINDOWS - 1) * self.hop
        return index * self.hop, self._group_start(first), last + self.window

    def _heard_until(self, start: int, size: int, stretch_start: int, stretch_end: int) -> int:
        """The stream position up to which samples decide this window's speech: the end of the
        last frame whose middle lies inside it (frames padded with zeros past the stretch)."""
        if not self._silero:
            return start + size
        frames = (2 * (start + size - stretch_start) + self._frame - 1) // (2 * self._frame)
        return min(stretch_start + frames * self._frame, stretch_end)

    # -- feeding -------------------------------------------------------------------------------

    def feed(self, samples: np.ndarray) -> list[dict]:
        """Add samples (mono float32 at the model's rate); rows of the windows now complete."""
        if len(samples):
            self._chunks.append(np.asarray(samples, dtype=np.float32))
            self.total += len(samples)
        rows = self._regular_rows(end_of_stream=False)
        self._forget()
        return rows

    def finish(self) -> list[dict]:
        """The stream ended: the windows still waiting, then predict's last window ending at the
        end of the stream (or one window of the stream's own length when it is that short)."""
        rows = self._regular_rows(end_of_stream=True)
        length = self.total
        if length == 0:
            return rows
        if length < self.window:
            if self.scorer.too_short(length):
                raise ValueError(f"too short for the model ({length} samples at {self.rate} Hz)")
            return [*rows, self._row(0, length, 0, length)]
        last = (self.emitted - 1) * self.hop
        if last + self.window < length:
            start = length - self.window
            if self.emitted % STRETCH_WINDOWS:  # it joins the last group, as in predict
                stretch_start = self._regular(self.emitted - 1)[1]
            else:
                stretch_start = self._group_start(start)
            rows.append(self._row(start, self.window, stretch_start, length))
        return rows

    def _regular_rows(self, end_of_stream: bool) -> list[dict]:
        rows = []
        while True:
            start, stretch_start, full_end = self._regular(self.emitted)
            if start + self.window > self.total:
                return rows
            stretch_end = min(full_end, self.total) if end_of_stream else full_end
            needed = self._heard_until(start, self.window, stretch_start, stretch_end)
            if not end_of_stream and needed > self.total:
                return rows
            rows.append(self._row(start, self.window, stretch_start, stretch_end))
            self.emitted += 1

    # -- samples ---------------------------------------------------------------------------------

    def _gather(self) -> None:
        if self._chunks:
            self._buffer = np.concatenate([self._buffer, *self._chunks])
            self._chunks = []

    def _samples(self, start: int, stop: int, low: int, high: int) -> np.ndarray:
        """Stream samples [start, stop), zeros outside the stretch [low, high)."""
        self._gather()
        result = np.zeros(stop - start, dtype=np.float32)
        lo, hi = max(start, low), min(stop, high, self.total)
        if hi > lo:
            result[lo - start : hi - start] = self._buffer[lo - self._origin : hi - self._origin]
        return result

    def _forget(self) -> None:
        """Drop samples no window still to come can need: those before the next window's
        stretch, keeping a window and a second for the window predict adds at the end."""
        next_stretch = self._regular(self.emitted)[1]
        keep = max(min(next_stretch, self.total - self.window - self._context), 0)
        # Cut only when it frees at least half of what is held: each cut copies what is kept.
        if keep - self._origin > (self.total - self._origin) // 2:
            self._gather()
            self._buffer = self._buffer[keep - self._origin :].copy()
            self._origin = keep
            self._lanes = {key: v for key, v in self._lanes.items() if key[0] >= next_stretch}

    # -- scoring ---------------------------------------------------------------------------------

    def _speech(self, start: int, size: int, stretch_start: int, stretch_end: int) -> bool:
        """Predict's decision: at least half of the frames whose middles lie in the window."""
        if not self._silero:
            return True
        frame = self._frame
        offset = start - stretch_start
        total_frames = -(-(stretch_end - stretch_start) // frame)
        middles = (np.arange(total_frames) + 0.5) * frame
        inside = np.flatnonzero((middles >= offset) & (middles < offset + size))
        if not len(inside):
            return False
        heard = self._frames(stretch_start, stretch_end, int(inside[0]), int(inside[-1]) + 1)
        return bool(heard.mean() >= 0.5)

    def _frames(self, stretch_start: int, stretch_end: int, first: int, stop: int) -> np.ndarray:
        """Silero's answers for the stretch's frames [first, stop), lane by lane; each lane
        carries on from where an earlier window left it, so every frame is computed once."""
        answers = []
        for lane in range(first // self._lane, (stop - 1) // self._lane + 1):
            lane_first = lane * self._lane
            wanted = min(stop, lane_first + self._lane) - lane_first
            heard, state = self._lanes.get((stretch_start, lane), (np.zeros(0, dtype=bool), None))
            if len(heard) < wanted:
                # The lane's first steps are its warm-up frames, then its own.
                fresh = state is None
                done = 0 if fresh else self._warm + len(heard)
                begin = stretch_start + (lane_first - self._warm) * self._frame
                # Zeros outside the stretch, as predict's padding gives its first and last lane.
                samples = self._samples(
                    begin + done * self._frame,
                    stretch_start + (lane_first + wanted) * self._frame,
                    stretch_start,
                    stretch_end,
                )
                more, state = self.vad.continue_lane(samples, state)
                heard = np.concatenate([heard, more[self._warm :] if fresh else more])
                self._lanes[(stretch_start, lane)] = (heard, state)
            low = max(first - lane_first, 0)
            answers.append(heard[low:wanted])
        return np.concatenate(answers)

    def _row(self, start: int, size: int, stretch_start: int, stretch_end: int) -> dict:
        probabilities = None
        if self._speech(start, size, stretch_start, stretch_end):
            samples = self._samples(start, start + size, start, start + size)
            probabilities = self.scorer.probabilities([samples])[0]
            if not np.all(np.isfinite(probabilities)):
                seconds = start / self.rate
                raise ValueError(f"the model gave NaN or infinite scores at {seconds:.2f} s")
        return window_row(start / self.rate, (start + size) / self.rate, self.scorer.labels,
                          probabilities)  # fmt: skip
