"""The installed console scripts answer --help and refuse a bad flag or options file before they
import the model stack (torch, transformers' model code, datasets, onnxruntime, matplotlib): each
command's options live in a light module and the work is imported after parsing. Once these took
5-8 s per `--help` (the test suite ran dozens of them); now most take about one second.

The modules a run imported are read from Python's own import log (PYTHONPROFILEIMPORTTIME, the
environment form of `-X importtime`), so the check sees every import, also those of libraries.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile
from model_helpers import save_tiny_classifier

BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parent.parent
# What only the work needs: torch, transformers' model and Trainer code, the data sets, ONNX,
# plotting. (The `transformers` package itself is light: HfArgumentParser parses the options.)
MODEL_STACK = (
    "torch",
    "transformers.modeling_utils",
    "transformers.models.wav2vec2.modeling_wav2vec2",
    "transformers.training_args",
    "transformers.trainer",
    "datasets",
    "onnxruntime",
    "onnx",
    "onnxscript",
    "matplotlib",
)
# ser-train's options include transformers' TrainingArguments, whose module imports torch and
# accelerate: that much it needs to parse, but no model code, no Trainer, no data sets.
TRAIN_OPTIONS_NEED = ("torch", "transformers.training_args")
# ser-prepare builds corpora with `datasets` (an Arrow table library, no torch); its
# options do not need it, but its modules import it, so only the model stack is barred there.
DATA_COMMANDS = {"ser-prepare"}
COMMANDS = (
    "ser-download", "ser-prepare", "ser-sample-archives", "ser-train", "ser-evaluate",
    "ser-predict", "ser-export", "ser-compare", "ser-demo", "ser-serve", "ser-stream",
)  # fmt: skip
ONNX_MODULES = ("onnxruntime", "onnx", "onnxscript")
_IMPORT_LINE = re.compile(r"^import time:\s+\d+ \|\s+\d+ \| *(\S+)$", re.M)


def _barred(command: str) -> set[str]:
    barred = set(MODEL_STACK)
    if command == "ser-train":
        barred -= set(TRAIN_OPTIONS_NEED)
    if command in DATA_COMMANDS:
        barred.discard("datasets")
    return barred


def _run(command: str, *args: str, cwd: Path) -> tuple[subprocess.CompletedProcess, set[str]]:
    """The installed script as a user runs it, and every module the run imported."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}", HF_HUB_OFFLINE="1",
               PYTHONPROFILEIMPORTTIME="1")  # fmt: skip
    result = subprocess.run([str(BIN / command), *args], cwd=cwd, env=env, capture_output=True,
                            text=True, timeout=300)  # fmt: skip
    imported = set(_IMPORT_LINE.findall(result.stderr))
    # The log was read: every command imports the shared options parser.
    assert "data_scripts.common.command_options" in imported, result.stderr[-2000:]
    return result, imported


def _messages(result: subprocess.CompletedProcess) -> str:
    """Standard error without the import log."""
    return "\n".join(line for line in result.stderr.splitlines()
                     if not line.startswith("import time:"))  # fmt: skip


def test_every_installed_command_is_checked():
    declared = re.findall(r"^\s+(ser-[\w-]+) = ", (REPO / "setup.cfg").read_text(), flags=re.M)
    assert sorted(declared) == sorted(COMMANDS)


@pytest.mark.parametrize("command", COMMANDS)
def test_help_prints_and_exits_0_without_the_model_stack(command, tmp_path):
    result, imported = _run(command, "--help", cwd=tmp_path)
    assert result.returncode == 0, _messages(result)[-2000:]
    assert "usage:" in result.stdout
    assert sorted(_barred(command) & imported) == []


@pytest.mark.parametrize(
    "command, args",
    [
        ("ser-train", ["--pooling", "max"]),
        ("ser-evaluate", ["--model_dir", "m", "--dataset_dir", "d", "--no_such_option"]),
        ("ser-predict", ["--model_dir", "m", "clip.wav", "--vad", "webrtc"]),
        ("ser-export", ["source", "dest", "--quantize", "int4"]),
        ("ser-serve", ["m", "--port", "70000"]),
        ("ser-stream", ["m", "--format", "mp3"]),
    ],
)
def test_a_bad_flag_is_refused_without_the_model_stack(command, args, tmp_path):
    result, imported = _run(command, *args, cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert len(_messages(result).strip().splitlines()) == 1
    assert sorted(_barred(command) & imported) == []


def test_a_bad_options_file_is_refused_without_the_model_stack(tmp_path):
    (tmp_path / "predict.yaml").write_text("model_dir: m\nbatch: 3\n")
    result, imported = _run("ser-predict", "--options", "predict.yaml", "clip.wav", cwd=tmp_path)
    assert result.returncode == 2
    assert _messages(result).strip() == (
        "ser-predict: error: predict.yaml: unknown option batch for ser-predict "
        "(see ser-predict --help)"
    )
    assert sorted(_barred("ser-predict") & imported) == []


def test_predict_with_pytorch_imports_no_onnx(tmp_path):
    """The PyTorch backend scores without onnxruntime, onnx or onnxscript (the [onnx] extra)."""
    model = save_tiny_classifier(tmp_path / "model")
    tone = 0.3 * np.sin(2 * np.pi * 220 * np.arange(16_000) / 16_000)
    soundfile.write(tmp_path / "clip.wav", tone.astype(np.float32), 16_000)
    result, imported = _run("ser-predict", "--model_dir", str(model), "clip.wav", cwd=tmp_path)
    assert result.returncode == 0, _messages(result)[-2000:]
    assert "clip.wav" in result.stdout
    assert "torch" in imported and "training.inference.classifier" in imported  # it scored
    assert sorted(set(ONNX_MODULES) & imported) == []
