"""Scoring one file window by window, in bounded memory.

Each stretch of STRETCH_WINDOWS windows is decoded on its own (`data_scripts.common.audio_spans`:
soundfile seeks, the same samples as decoding the whole file), so memory does not grow with the
file's length. A file's windows all have the same length (the last one ends at the file's end),
so its batches have no padding; a file no longer than a window is one window of its own length.
Windows the voice-activity detector hears no speech in are left unscored (`silence`).
"""

from __future__ import annotations

import numpy as np
from tqdm.auto import tqdm

from data_scripts.common.audio_spans import SpanDecoder
from training.inference.timeline import window_row
from training.inference.vad import WARMUP_SECONDS
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


def score_file(
    path, scorer, vad, window: int, hop: int, batch_size: int, progress: tqdm
) -> tuple[list[dict], float]:
    """(one row per window (training.inference.timeline.window_row), duration in seconds).

    ValueError naming the reason for a file that does not decode, ends early, is too short for
    the model, or that the model cannot score.
    """
    rate = scorer.sampling_rate
    with SpanDecoder(path, scorer.decode_settings) as decoder:
        length = decoder.length
        # The bar counts seconds of audio: this file's windows move it from `base` to the total.
        base = progress.n
        progress.total = base + decoder.seconds
        progress.refresh()
        if scorer.too_short(min(length, window)):
            raise ValueError(f"too short for the model ({length} samples at {rate} Hz)")
        size = min(window, length)
        starts = window_starts(length, window, hop)
        rows: list[dict] = []
        vad_context = round(WARMUP_SECONDS * rate)
        for first in range(0, len(starts), STRETCH_WINDOWS):
            group = starts[first : first + STRETCH_WINDOWS]
            # The voice-activity detector also hears the second before the first window.
            context = min(group[0], vad_context)
            stretch = decoder.read(group[0] - context, group[-1] + size)
            offsets = [s - group[0] + context for s in group]
            speech = vad.speech(stretch, offsets, size)
            scored: list[np.ndarray] = []
            spoken = [o for o, is_speech in zip(offsets, speech, strict=True) if is_speech]
            for batch_first in range(0, len(spoken), batch_size):
                batch = spoken[batch_first : batch_first + batch_size]
                scored.extend(
                    _probabilities(scorer, np.stack([stretch[o : o + size] for o in batch]))
                )
                progress.n = min(
                    base + (group[0] - context + batch[-1] + size) / rate, progress.total
                )
                progress.refresh()
            answers = iter(scored)
            for start, is_speech in zip(group, speech, strict=True):
                probabilities = next(answers) if is_speech else None
                rows.append(window_row(start / rate, (start + size) / rate, scorer.labels,
                                       probabilities))  # fmt: skip
            del stretch
            release_freed_memory()  # else the process grows with the file's length
            progress.n = min(base + (group[-1] + size) / rate, progress.total)
            progress.refresh()
    return rows, length / rate


def _probabilities(scorer, batch: np.ndarray) -> np.ndarray:
    try:
        probabilities = scorer.probabilities(list(batch))
    except RuntimeError as error:
        raise ValueError(f"the model cannot score it ({error})") from error
    if not np.all(np.isfinite(probabilities)):
        raise ValueError("the model gave NaN or infinite scores for this audio")
    return probabilities
