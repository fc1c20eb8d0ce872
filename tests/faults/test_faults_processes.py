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

REPO = Path(__file__).resolve().parents[2]


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


def _kill_when(process: subprocess.Popen, ready, what: str, timeout: float = 120) -> None:
    """SIGKILL `process` as soon as `ready()` holds; fail if it ends first."""
    deadline = time.monotonic() + timeout
    try:
        while not ready():
            assert process.poll() is None, f"the run ended before {what}"
            assert time.monotonic() < deadline, f"no {what} within {timeout} s"
            time.sleep(0.002)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()


@pytest.mark.faults
def test_extraction_killed_midway_then_rerun_is_byte_identical(tmp_path):
    import zipfile

    from data_scripts.corpora.ravdess.archives import extract_archive
    from data_scripts.corpora.ravdess.facts import ACTORS, file_names_for_actor

    archive = tmp_path / "speech.zip"
    rng = __import__("numpy").random.default_rng(0)
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as zf:
        for actor in ACTORS:
            for name in file_names_for_actor(actor, "speech"):
                zf.writestr(f"Actor_{actor:02d}/{name}", rng.bytes(20_000))
    destination = tmp_path / "out" / "speech"
    staging = destination.with_name(".speech.partial")
    script = (
        "import sys; from data_scripts.corpora.ravdess.archives import extract_archive; "
        "extract_archive(sys.argv[1], sys.argv[2])"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", script, str(archive), str(destination)],
        cwd=REPO, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    _kill_when(
        process, lambda: staging.is_dir() and any(staging.glob("Actor_*/*.wav")), "extraction"
    )
    assert not destination.exists(), "a killed extraction left a folder under the final name"
    files = extract_archive(archive, destination)
    with zipfile.ZipFile(archive) as zf:
        assert len(files) == len(zf.infolist()) == 1440
        for path in files:
            assert path.read_bytes() == zf.read(path.relative_to(destination).as_posix())
    assert sorted(p.name for p in destination.parent.iterdir()) == ["speech"]


@pytest.mark.faults
def test_cache_build_killed_midway_then_rerun_gives_identical_rows(sample_data_dir, tmp_path):
    import numpy as np

    from data_scripts.corpora.ravdess_corpus import build_ravdess

    cache = tmp_path / "cache"
    command = _prepare(sample_data_dir, tmp_path / "out", cache, "--num_proc", "1")
    process = subprocess.Popen(
        command, cwd=REPO, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    _kill_when(
        process, lambda: any(p.suffix == ".arrow" for p in cache.rglob("*.incomplete/*")), "rows"
    )
    assert not (tmp_path / "out").exists()
    rebuilt = build_ravdess(data_dir=sample_data_dir, cache_dir=cache, num_proc=1)
    reference = build_ravdess(data_dir=sample_data_dir, cache_dir=tmp_path / "fresh", num_proc=1)
    assert len(rebuilt) == len(reference) == 416
    assert rebuilt["file"] == reference["file"]
    for row, expected in zip(
        rebuilt.with_format("numpy"), reference.with_format("numpy"), strict=True
    ):
        assert row["label"] == expected["label"]
        np.testing.assert_array_equal(row["audio"]["array"], expected["audio"]["array"])
