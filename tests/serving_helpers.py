"""Shared pieces of the server and stream tests: a tiny classifier, speech with pauses, the
installed commands, and a ser-serve subprocess on a free port."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import requests
import soundfile
import torch
import torchaudio
from model_helpers import save_tiny_classifier
from training_helpers import free_port

RATE = 16_000
BIN = Path(sys.executable).parent
SENTENCES = (
    "I can't believe you did that again.",
    "The weather was lovely this morning.",
    "Please put the report on my desk.",
)
STARTUP_SECONDS = 240  # importing torch on a busy 2-core machine


def command_env() -> dict:
    """The environment for the installed commands: this venv's bin folder first in PATH."""
    return dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")


def tiny_model(directory: Path) -> Path:
    """The group-norm tiny classifier (every preset's CNN norm), wide weights so that the
    answers depend visibly on the audio."""
    torch.manual_seed(0)
    return save_tiny_classifier(directory, sampling_rate=RATE, return_attention_mask=False,
                                feat_extract_norm="group", initializer_range=0.5)  # fmt: skip


def speech_with_pauses(seconds: float) -> np.ndarray:
    """espeak-ng sentences with silence between them (so that the voice-activity detector has
    both to decide), cut or padded to `seconds`; a noisy chirp where espeak-ng is missing."""
    length = int(seconds * RATE)
    if not shutil.which("espeak-ng"):
        t = np.arange(length) / RATE
        noise = np.random.default_rng(0).standard_normal(length)
        return (0.4 * np.sin(2 * np.pi * 220 * t * (1 + 0.2 * t)) + 0.05 * noise).astype(np.float32)
    parts = []
    with tempfile.TemporaryDirectory() as folder:
        index = 0
        while sum(len(p) for p in parts) < length:
            wav = Path(folder) / f"{index}.wav"
            sentence, voice = SENTENCES[index % 3], ("en", "en+f3", "en+m3")[index % 3]
            subprocess.run(["espeak-ng", "-v", voice, "-w", str(wav), sentence], check=True)
            speech, rate = soundfile.read(wav, dtype="float32")
            speech = torchaudio.functional.resample(torch.from_numpy(speech), rate, RATE).numpy()
            parts += [speech, np.zeros(int((0.6 + 0.5 * (index % 3)) * RATE), np.float32)]
            index += 1
    return np.concatenate(parts)[:length]


class Server:
    def __init__(self, process: subprocess.Popen, url: str, log: Path):
        self.process, self.url, self.log = process, url, log

    def stderr(self) -> str:
        return self.log.read_text()


@contextmanager
def serve(model_dir: Path, tmp_dir: Path, *options: str):
    """ser-serve on a free port, its uploads' temporary folders under `tmp_dir`; yields once
    /v1/health answers, stops it afterwards."""
    port = free_port()
    log = tmp_dir / f"server-{port}.log"
    env = dict(command_env(), TMPDIR=str(tmp_dir))
    with open(log, "w") as handle:
        process = subprocess.Popen(
            ["ser-serve", str(model_dir), "--port", str(port), *options],
            stdout=handle, stderr=subprocess.STDOUT, env=env,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            assert process.poll() is None, log.read_text()
            try:
                if requests.get(f"{url}/v1/health", timeout=5).ok:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.5)
        yield Server(process, url, log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
