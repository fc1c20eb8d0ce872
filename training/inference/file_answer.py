"""One file's (or array's) answer as a plain, JSON-ready dict: the fields ser-predict --json
writes and EmotionClassifier returns."""

from __future__ import annotations

import numpy as np

from training.inference.output_scores import class_fields, value_fields
from training.inference.timeline import NO_SPEECH
from training.model.task_outputs import OutputLayout

# Classes shown per file in the printed table and the answers' `top` lists.
TOP_K = 3


def file_result(
    name: str | None,
    layout: OutputLayout,
    scores: np.ndarray | None,
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
    with --vad none). `scores`: class probabilities then target values
    (training.inference.output_scores); a model with targets adds `values`."""
    fields = class_fields(layout, scores, NO_SPEECH)
    top = []
    if fields["probabilities"] is not None:
        probabilities = scores[layout.class_slice]
        order = np.argsort(-probabilities, kind="stable")
        top = [[layout.classes[i], float(probabilities[i])] for i in order[:TOP_K]]
    result = {"file": name, "emotion": fields["emotion"], "probability": fields["probability"],
              "top": top, "probabilities": fields["probabilities"],
              **value_fields(layout, scores)}  # fmt: skip
    result.update(
        duration_seconds=duration_seconds,
        windows=windows,
        silence_windows=silence_windows,
        scored=scored,
        speech_share=speech_share,
    )
    return result
