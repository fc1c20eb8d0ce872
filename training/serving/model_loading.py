"""Loading the saved model once for the server and the stream, with either backend."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from training.inference.classifier import BACKENDS, EmotionClassifier

__all__ = ["BACKENDS", "ModelFolderOptions", "load_classifier"]


@dataclass
class ModelFolderOptions:
    """MODEL_DIR, --backend, --onnx_file and --device: the server's and the stream's options
    (their option dataclasses extend this one)."""

    model_dir: str | None = field(
        default=None,
        metadata={"positional": True,
                  "help": "model directory (a training run, a fold or an export)"},
    )  # fmt: skip
    backend: Literal[BACKENDS] = field(
        default="pytorch", metadata={"help": "onnxruntime: the ONNX export"}
    )
    onnx_file: str | None = field(
        default=None, metadata={"help": "with --backend onnxruntime: e.g. model.int8.onnx"}
    )
    device: str = field(default="auto", metadata={"help": "auto, cpu, cuda or cuda:N"})


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
