"""Scoring one file window by window, in bounded memory.

Each stretch of STRETCH_WINDOWS windows is decoded on its own (`data_scripts.common.audio_spans`:
soundfile seeks, the same samples as decoding the whole file), so memory does not grow with the
file's length. A file's windows all have the same length (the last one ends at the file's end),
so its batches have no padding; a file no longer than a window is one window of its own length.
Windows the voice-activity detector hears no speech in are left unscored (`silence`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from tqdm.auto import tqdm

from data_scripts.common.audio_spans import SpanDecoder
from training.inference.timeline import window_row
from training.inference.vad import MIN_SPEECH_FRACTION, WARMUP_SECONDS
from training.model.freed_memory import release_freed_memory

# Windows read and examined for speech together (about 2 minutes at RAVDESS's 3.7 s windows):
# silero's parallel lanes make one long stretch 3x cheaper than eight windows at a time
# (BENCHMARKS.md, long recordings); the speech windows are then scored `batch_size` at a time.
STRETCH_WINDOWS = 32


def window_starts(num_samples: int, window: int, hop: int) -> list[int]:
    """Start offsets of full windows covering the clip; the last window ends at the clip's end."""
    if num_samples <= window:
        return [0]
    starts = list(range(0, num_samples - window + 1, hop))
    if starts[-1] + window < num_samples:
        starts.append(num_samples - window)
    return starts


@dataclass
class WindowScores:
    """One file's windows: rows (training.inference.timeline.window_row), each window's share of
    frames heard as speech, and the frames heard and examined over the whole file (None without
    a voice-activity detector)."""

    rows: list[dict]
    speech_fractions: list[float] = field(default_factory=list)
    heard_frames: int | None = None
    examined_frames: int | None = None

    @property
    def speech_share(self) -> float | None:
        if not self.examined_frames:
            return None
        return self.heard_frames / self.examined_frames


def score_file(
    path, scorer, vad, window: int, hop: int, batch_size: int, progress: tqdm
) -> tuple[list[dict], float]:
    """(one row per window (training.inference.timeline.window_row), duration in seconds).

    ValueError naming the reason for a file that does not decode, ends early, is too short for
    the model, or that the model cannot score.
    """
    with SpanDecoder(path, scorer.decode_settings) as decoder:
        scores = score_windows(decoder, scorer, vad, window, hop, batch_size, progress)
        return scores.rows, decoder.length / scorer.sampling_rate


def score_windows(
    source, scorer, vad, window: int, hop: int, batch_size: int, progress: tqdm | None = None
) -> WindowScores:
    """Score `source` (an open SpanDecoder, or anything with `length` and `read(start, stop)`)
    window by window, STRETCH_WINDOWS windows at a time; windows without speech stay unscored.

    ValueError naming the reason for a source that ends early, is too short for the model, or
    that the model cannot score.
    """
    rate = scorer.sampling_rate
    length = source.length
    base = 0.0
    if progress is not None:  # the bar counts seconds of audio: from `base` to the new total
        base = progress.n
        progress.total = base + length / rate
        progress.refresh()
    if scorer.too_short(min(length, window)):
        raise ValueError(f"too short for the model ({length} samples at {rate} Hz)")
    size = min(window, length)
    starts = window_starts(length, window, hop)
    scores = WindowScores(rows=[])
    vad_context = round(WARMUP_SECONDS * rate)
    covered = 0  # samples before this were counted in the speech share already
    for first in range(0, len(starts), STRETCH_WINDOWS):
        group = starts[first : first + STRETCH_WINDOWS]
        # The voice-activity detector also hears the second before the first window.
        context = min(group[0], vad_context)
        origin = group[0] - context
        stretch = source.read(origin, group[-1] + size)
        offsets = [s - origin for s in group]
        fractions, frames = vad.speech_fractions(stretch, offsets, size)
        if frames is not None:
            middles, heard = frames
            new = (middles >= max(covered, group[0]) - origin) & (middles < len(stretch))
            scores.heard_frames = (scores.heard_frames or 0) + int(heard[new].sum())
            scores.examined_frames = (scores.examined_frames or 0) + int(new.sum())
        covered = group[-1] + size
        speech = fractions >= MIN_SPEECH_FRACTION
        scored: list[np.ndarray] = []
        spoken = [o for o, is_speech in zip(offsets, speech, strict=True) if is_speech]
        for batch_first in range(0, len(spoken), batch_size):
            batch = spoken[batch_first : batch_first + batch_size]
            scored.extend(
                window_probabilities(scorer, np.stack([stretch[o : o + size] for o in batch]))
            )
            _advance(progress, base + (origin + batch[-1] + size) / rate)
        answers = iter(scored)
        for start, is_speech in zip(group, speech, strict=True):
            probabilities = next(answers) if is_speech else None
            scores.rows.append(window_row(start / rate, (start + size) / rate, scorer.labels,
                                          probabilities))  # fmt: skip
        scores.speech_fractions.extend(float(f) for f in fractions)
        del stretch
        release_freed_memory()  # else the process grows with the file's length
        _advance(progress, base + (group[-1] + size) / rate)
    return scores


def score_partly_spoken(source, scorer, scores: WindowScores, window: int) -> None:
    """Score the windows with any speech in them when none holds speech over half its length.

    A file is `no speech` only when the detector hears nothing in it at all: one word in a long
    recording still gets an emotion (the mean over the windows it is in)."""
    rate = scorer.sampling_rate
    for index, (row, fraction) in enumerate(zip(scores.rows, scores.speech_fractions, strict=True)):
        if fraction <= 0:
            continue
        start = round(row["start_s"] * rate)
        samples = source.read(start, start + min(window, source.length))
        (probabilities,) = window_probabilities(scorer, samples[None])
        scores.rows[index] = window_row(row["start_s"], row["end_s"], scorer.labels, probabilities)


def _advance(progress: tqdm | None, position: float) -> None:
    if progress is not None:
        progress.n = min(position, progress.total)
        progress.refresh()


def window_probabilities(scorer, batch: np.ndarray) -> np.ndarray:
    """The scorer's probabilities for a batch; ValueError for an error or a non-finite score."""
    try:
        probabilities = scorer.probabilities(list(batch))
    except RuntimeError as error:
        raise ValueError(f"the model cannot score it ({error})") from error
    if not np.all(np.isfinite(probabilities)):
        raise ValueError("the model gave NaN or infinite scores for this audio")
    return probabilities
