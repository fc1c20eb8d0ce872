"""One file's (or array's) answer as a plain, JSON-ready dict: the fields ser-predict --json
writes and EmotionClassifier returns."""

from __future__ import annotations

import numpy as np

from training.inference.timeline import NO_SPEECH

# Classes shown per file in the printed table and the answers' `top` lists.
TOP_K = 3


def file_result(
    name: str | None,
    labels: list[str],
    probabilities: np.ndarray | None,
    duration_seconds: float,
    scored: str,
    windows: int,
    silence_windows: int,
    speech_share: float | None,
) -> dict:
    """file, emotion (`no speech` without probabilities), probability, top (TOP_K [label,
    probability] pairs), probabilities (every label), duration_seconds, windows (the windows
    averaged: 1 for a clip scored whole), silence_windows, scored (`whole`: the clip in one
    forward pass, as evaluation scores it; `windows`: the mean over its speech windows), and
    speech_share (the share of its frames the voice-activity detector heard as speech; None
    with --vad none)."""
    result = {"file": name, "emotion": NO_SPEECH, "probability": None, "top": [],
              "probabilities": None}  # fmt: skip
    if probabilities is not None:
        order = np.argsort(-probabilities, kind="stable")
        result.update(
            emotion=labels[order[0]],
            probability=float(probabilities[order[0]]),
            top=[[labels[i], float(probabilities[i])] for i in order[:TOP_K]],
            probabilities={label: float(p) for label, p in zip(labels, probabilities, strict=True)},
        )
    result.update(
        duration_seconds=duration_seconds,
        windows=windows,
        silence_windows=silence_windows,
        scored=scored,
        speech_share=speech_share,
    )
    return result
