"""Loading the saved model once for the server and the stream, with either backend."""

from __future__ import annotations

from pathlib import Path

from training.inference.choices import BACKENDS
from training.inference.classifier import EmotionClassifier
from training.serving.serving_options import ModelFolderOptions

__all__ = ["BACKENDS", "ModelFolderOptions", "load_classifier"]


def load_classifier(
    model_dir: str | Path,
    backend: str,
    onnx_file: str | None,
    device: str = "auto",
    vad: str = "silero",
) -> EmotionClassifier:
    """The classifier and its voice-activity detector, loaded once (the first request or window
    is then no slower than the rest); ClassifierLoadError (a ValueError) in one line naming the
    folder and what to do when it cannot be."""
    classifier = EmotionClassifier.from_pretrained(
        model_dir, backend=backend, onnx_file=onnx_file, device=device
    )
    classifier.prepare_vad(vad)
    return classifier
