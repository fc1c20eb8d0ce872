"""Loading the saved model once for the server and the stream, with either backend."""

from __future__ import annotations

from pathlib import Path

from training.inference.onnx_backend import OnnxScorer
from training.inference.scoring import Scorer

BACKENDS = ("pytorch", "onnxruntime")


def load_scorer(model_dir: str | Path, backend: str, onnx_file: str | None, device: str):
    """Predict's scorer for `backend`; ValueError in one line for a model it cannot load."""
    if backend == "onnxruntime":
        return OnnxScorer(model_dir, onnx_file, device)
    if onnx_file:
        raise ValueError("--onnx_file needs --backend onnxruntime")
    return Scorer(model_dir, device, "float32")
