"""Predict's onnxruntime backend: `OnnxScorer`, with the interface of predict's PyTorch scorer.

The ONNX file has no attention mask, so clips are scored one at a time: no padding, hence the
same answers as the PyTorch model one clip at a time, also for group-norm models. CPU only;
onnxruntime is imported when the scorer is built.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from transformers import AutoConfig

from training.inference.onnx_export import (
    ONNX_FILE,
    onnx_session,
    receptive_field,
    session_probabilities,
)
from training.model.decode_settings import model_decode_settings
from training.model.remote_code import load_feature_extractor


def onnx_path(model_dir: str | Path, onnx_file: str | None) -> Path:
    """The ONNX file to load: a bare name (default model.onnx) inside model_dir only, never in
    the current folder (which once scored another model's file under this model's name); a path
    (with a folder part, `./x.onnx` too) as given.

    ValueError naming the command that creates it when it is not there."""
    name = onnx_file or ONNX_FILE
    bare = Path(name).name == name
    path = Path(model_dir) / name if bare else Path(name)
    if not bare and not path.is_file():
        raise ValueError(f"--onnx_file {name}: no such file")
    if not path.is_file():
        quantize = " --quantize int8" if "int8" in name else ""
        raise ValueError(
            f"--model_dir {model_dir}: no {name}; create it with: python -m "
            f"training.inference.export SOURCE {model_dir} --onnx{quantize}"
        )
    return path


class OnnxScorer:
    """The model as an onnxruntime session plus its feature extractor; arrays to probabilities."""

    def __init__(self, model_dir: str | Path, onnx_file: str | None = None, device="auto"):
        if device not in ("auto", "cpu"):
            raise ValueError(f"--device {device}: --backend onnxruntime runs on the CPU")
        path = onnx_path(model_dir, onnx_file)
        self.onnx_file = path.absolute()  # recorded in predict's log and JSON
        self.device = torch.device("cpu")
        self.feature_extractor = load_feature_extractor(model_dir)
        self.config = AutoConfig.from_pretrained(model_dir, trust_remote_code=False)
        self.session = onnx_session(path)
        self.sampling_rate = self.feature_extractor.sampling_rate
        self.decode_settings = model_decode_settings(self.feature_extractor)
        self.labels = [self.config.id2label[i] for i in range(self.config.num_labels)]
        self._shortest = receptive_field(self.config)

    def too_short(self, num_samples: int) -> bool:
        """True when the CNN yields no frame for this many samples (predict reports the clip)."""
        return num_samples < self._shortest

    def probabilities(self, arrays: list[np.ndarray]) -> np.ndarray:
        """Class probabilities (float32, one row per array), one clip per run: no padding, and
        on CPU faster per clip than batches (BENCHMARKS.md, long recordings)."""
        rows = np.zeros((len(arrays), len(self.labels)), dtype=np.float32)
        for index, array in enumerate(arrays):
            rows[index] = session_probabilities(self.session, self.feature_extractor, array)
        return rows
