"""What the training tests share: the tiny preset's paths and running the training script."""

from __future__ import annotations

import csv
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TINY_CONFIG = REPO / "configs" / "models" / "tiny.json"
TRAIN_CONFIG = REPO / "configs" / "training" / "tiny.yaml"


def run_env() -> dict:
    env = dict(os.environ, PYTHONUNBUFFERED="1", TOKENIZERS_PARALLELISM="false")
    env["PYTHONPATH"] = str(REPO)
    return env


def train_command(checkpoint: Path, output_dir: Path, *extra: str, launcher=None) -> list[str]:
    launcher = launcher or [sys.executable, str(REPO / "training" / "wav2vec2_classification.py")]
    return [
        *launcher,
        "--train_config", str(TRAIN_CONFIG),
        "--model_path", str(checkpoint / "pytorch_model.bin"),
        "--config_path", str(checkpoint / "config.json"),
        "--output_dir", str(output_dir),
        *extra,
    ]  # fmt: skip


def run_command(command: list[str], timeout: int = 600) -> subprocess.CompletedProcess:
    result = subprocess.run(
        command, cwd=REPO, env=run_env(), capture_output=True, text=True, timeout=timeout
    )
    if result.returncode != 0:
        raise AssertionError(f"{command} failed:\n{result.stdout[-3000:]}\n{result.stderr[-6000:]}")
    return result


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def read_json(path: Path) -> dict:
    return json.loads(path.read_text())


def predictions_table(run_dir: Path) -> tuple[list[str], list[dict]]:
    with open(run_dir / "test_predictions.csv", newline="") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames), list(reader)
