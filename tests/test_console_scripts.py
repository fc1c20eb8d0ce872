"""The installed console scripts themselves (from the venv's bin, not `python -m`): every one is
named ser-*, prints its help, and exits 0 after a real success and non-zero only on failure.

A console script exits with whatever its `main` returns: a `main` that returned the prepared
Dataset made ser-prepare exit 1 after every successful build."""

from __future__ import annotations

import configparser
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch
from model_helpers import save_tiny_classifier

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
COMMANDS = {
    "ser-download", "ser-prepare", "ser-sample-archives", "ser-train", "ser-evaluate",
    "ser-predict", "ser-export", "ser-demo", "ser-compare", "ser-serve", "ser-stream",
}  # fmt: skip


def _declared() -> dict[str, str]:
    setup = configparser.ConfigParser()
    setup.read(REPO / "setup.cfg")
    lines = setup["options.entry_points"]["console_scripts"].strip().splitlines()
    return dict(tuple(part.strip() for part in line.split("=")) for line in lines)


def _run(command: str, *args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    """The installed script, run as a user runs it: from another folder, its bin on PATH."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}", TOKENIZERS_PARALLELISM="false",
               HF_HUB_OFFLINE="1")  # fmt: skip
    return subprocess.run(
        [str(BIN / command), *args], cwd=REPO.parent, env=env, capture_output=True, text=True,
        timeout=timeout,
    )  # fmt: skip


def test_every_console_script_is_named_ser_and_installed():
    declared = _declared()
    assert set(declared) == COMMANDS
    for name in declared:
        assert (BIN / name).is_file(), f"{name} is not installed in {BIN}: pip install -e ."


# Every script's --help (exit 0, a usage line, and no model stack imported for it) is run once,
# by tests/test_command_imports.py.


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    return save_tiny_classifier(
        tmp_path_factory.mktemp("model") / "tiny", return_attention_mask=True
    )


def test_the_data_path_exits_0_on_success_and_1_on_failure(tmp_path, tiny_model):
    """sample archives -> download (from the archives, no network) -> prepare -> evaluate: each
    installed script exits 0 after it succeeded, and a refused run exits non-zero."""
    archives, data, prepared = tmp_path / "archives", tmp_path / "data", tmp_path / "prepared"
    steps = [
        ("ser-sample-archives", "--output_dir", str(archives), "--actors", "1",
         "--min_seconds", "0.8", "--max_seconds", "1.0"),
        ("ser-download", "--data_dir", str(data), "--archive_dir", str(archives), "--no_verify"),
        ("ser-prepare", "--data_dir", str(data), "--output_dir", str(prepared),
         "--cache_dir", str(tmp_path / "cache"), "--num_proc", "1"),
        ("ser-evaluate", "--model_dir", str(tiny_model), "--dataset_dir", str(prepared),
         "--output_dir", str(tmp_path / "evaluated")),
    ]  # fmt: skip
    for command, *args in steps:
        result = _run(command, *args)
        assert result.returncode == 0, f"{command}: {result.stderr[-3000:]}"
    assert (prepared / "dataset_info.json").is_file()
    assert list((tmp_path / "evaluated" / "cross_corpus").glob("*/results.json"))
    refused = _run("ser-prepare", "--data_dir", str(tmp_path / "missing"), "--output_dir",
                   str(tmp_path / "never"))  # fmt: skip
    assert refused.returncode == 1 and "error:" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_predict_and_export_exit_0_on_success(tmp_path, tiny_model):
    clip = tmp_path / "clip.wav"
    tone = 0.3 * np.sin(2 * np.pi * 220 * np.arange(16_000) / 16_000)
    soundfile.write(clip, tone.astype(np.float32), 16_000)
    predicted = _run("ser-predict", "--model_dir", str(tiny_model), str(clip), "--vad", "none")
    assert predicted.returncode == 0, predicted.stderr[-3000:]
    assert "clip.wav" in predicted.stdout
    exported = _run("ser-export", str(tiny_model), str(tmp_path / "exported"), timeout=600)
    assert exported.returncode == 0, exported.stderr[-3000:]
    assert _run("ser-export", "--check", str(tmp_path / "exported")).returncode == 0
    missing = _run("ser-predict", "--model_dir", str(tmp_path / "none"), str(clip))
    assert missing.returncode == 2
