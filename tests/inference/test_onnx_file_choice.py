"""Which ONNX file predict scores: a bare `--onnx_file` name inside --model_dir only, a path as
given; the file scored is recorded in the JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from model_helpers import save_tiny_classifier
from training_helpers import run_env

from data_scripts.corpora.ravdess.sample_archives import write_voice_file
from training.inference.onnx_export import export_onnx
from training.model.trained_classifier import load_trained_classifier

pytest.importorskip("onnxruntime")


def _model_with_onnx(folder: Path, favoured: int, onnx_path: Path) -> Path:
    """A tiny classifier whose head favours one class (so two models answer apart), with its
    ONNX file written to `onnx_path`."""
    torch.manual_seed(favoured)
    save_tiny_classifier(folder)
    model = load_trained_classifier(folder).eval()
    with torch.no_grad():
        model.classifier.bias[favoured] = 6.0
    model.save_pretrained(folder)
    export_onnx(model, onnx_path, 16_000)
    return folder


def _predict(cwd: Path, model: Path, clip: Path, *extra: str) -> dict:
    json_path = cwd / f"out{len(list(cwd.glob('out*.json')))}.json"
    result = subprocess.run(
        [sys.executable, "-m", "training.inference.predict", "--model_dir", str(model),
         "--vad", "none", "--json", str(json_path), *extra, str(clip)],
        cwd=cwd, env=run_env(), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(json_path.read_text())


def test_a_bare_onnx_name_is_looked_up_in_the_model_dir_only(tmp_path):
    """Before, `--onnx_file model.onnx` run from a folder holding another model's ONNX file
    scored that one, while the log and JSON named --model_dir."""
    ours = _model_with_onnx(tmp_path / "ours", 0, tmp_path / "ours" / "model.onnx")
    work = tmp_path / "work"
    work.mkdir()
    _model_with_onnx(tmp_path / "other", 1, work / "model.onnx")  # another model's file here
    clip = write_voice_file(tmp_path / "clip.wav", "angry", True, 1, sampling_rate=16_000)
    reference = _predict(work, ours, clip)["results"][0]["probabilities"]  # PyTorch, our model
    onnx = ["--backend", "onnxruntime", "--onnx_file"]
    bare = _predict(work, ours, clip, *onnx, "model.onnx")
    assert bare["onnx_file"] == str(ours / "model.onnx")
    for label, probability in reference.items():
        assert bare["results"][0]["probabilities"][label] == pytest.approx(probability, abs=1e-4)
    # A path is used as given, and recorded.
    given = _predict(work, ours, clip, *onnx, "./model.onnx")
    assert given["onnx_file"] == str(work / "model.onnx")
    differences = [abs(given["results"][0]["probabilities"][k] - v) for k, v in reference.items()]
    assert max(differences) > 0.5, "the other model's file answers differently"
