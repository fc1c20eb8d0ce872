"""Faults with real processes: killed builders, two builds at once into one folder."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import datasets
import psutil
import pytest

REPO = Path(__file__).resolve().parent.parent


def _env() -> dict:
    return dict(os.environ, PYTHONPATH=str(REPO), PYTHONUNBUFFERED="1")


def _prepare(data_dir: Path, output: Path, cache: Path, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "data_scripts.ravdess", "--data_dir", str(data_dir),
        "--output_dir", str(output), "--cache_dir", str(cache), *extra,
    ]  # fmt: skip


def _alive(process: psutil.Process) -> bool:
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest.mark.faults
def test_builder_workers_die_with_a_killed_builder(sample_data_dir, tmp_path):
    command = _prepare(sample_data_dir, tmp_path / "out", tmp_path / "cache", "--num_proc", "2")
    builder = subprocess.Popen(
        command, cwd=REPO, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    parent = psutil.Process(builder.pid)
    deadline = time.monotonic() + 120
    children: list[psutil.Process] = []
    try:
        # Two pool workers and datasets' Manager process.
        while len(children) < 3:
            assert builder.poll() is None, "the build ended before its workers were seen"
            assert time.monotonic() < deadline, "no worker processes within 120 s"
            children = parent.children(recursive=True)
            time.sleep(0.05)
        time.sleep(0.5)  # the workers are decoding
    finally:
        builder.send_signal(signal.SIGKILL)
        builder.wait()
    deadline = time.monotonic() + 5
    while any(_alive(child) for child in children) and time.monotonic() < deadline:
        time.sleep(0.1)
    survivors = [child.pid for child in children if _alive(child)]
    for pid in survivors:  # do not leave them behind when the test fails
        os.kill(pid, signal.SIGKILL)
    assert survivors == [], f"workers {survivors} outlived their killed builder"


@pytest.mark.faults
def test_two_builds_into_one_output_dir_both_finish_complete(sample_data_dir, tmp_path):
    output, cache = tmp_path / "prepared", tmp_path / "cache"
    command = _prepare(sample_data_dir, output, cache, "--config", "song", "--num_proc", "1")
    runs = [
        subprocess.Popen(
            command, cwd=REPO, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    outcomes = [(run.wait(timeout=300), run.stderr.read()) for run in runs]
    for run in runs:
        run.stdout.close()
        run.stderr.close()
    assert [code for code, _ in outcomes] == [0, 0], [err[-2000:] for _, err in outcomes]
    saved = datasets.load_from_disk(str(output))
    assert len(saved) == 176 and set(saved["vocal_channel"]) == {"song"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "prepared"]
