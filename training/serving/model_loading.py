"""Loading the saved model once for the server and the stream, with either backend."""

from __future__ import annotations

from pathlib import Path

from training.inference.classifier import BACKENDS, EmotionClassifier

__all__ = ["BACKENDS", "load_classifier"]


def load_classifier(
    model_dir: str | Path, backend: str, onnx_file: str | None, device: str = "auto"
) -> EmotionClassifier:
    """The classifier, loaded once; ClassifierLoadError (a ValueError) in one line naming the
    folder and what to do when it cannot be."""
    return EmotionClassifier.from_pretrained(
        model_dir, backend=backend, onnx_file=onnx_file, device=device
    )
