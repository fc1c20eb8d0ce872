"""Loading the saved model once for the server and the stream, with either backend."""

from __future__ import annotations

import argparse
from pathlib import Path

from training.inference.classifier import BACKENDS, EmotionClassifier

__all__ = ["BACKENDS", "add_model_arguments", "load_classifier"]


def add_model_arguments(parser: argparse.ArgumentParser, what: str) -> None:
    """MODEL_DIR, --backend, --onnx_file and --device, the same for the server and the stream."""
    parser.add_argument("model_dir", help=f"model directory ({what})")
    parser.add_argument("--backend", default="pytorch", choices=BACKENDS)
    parser.add_argument("--onnx_file", help="with --backend onnxruntime: e.g. model.int8.onnx")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")


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
