"""The learning benchmark refuses an --archive_dir without RAVDESS-format archives in one line,
before it writes anything or trains."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _bench(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(REPO / "bench" / "bench_learning.py"), *args],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_a_folder_without_archives_is_refused_in_one_line(tmp_path):
    empty = tmp_path / "not_archives"
    empty.mkdir()
    (empty / "notes.txt").write_text("no zips here")
    output = tmp_path / "out"
    done = _bench("--archive_dir", str(empty), "--output_dir", str(output))
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert str(empty) in lines[0] and "Audio_Speech_Actors_01-24.zip" in lines[0]
    assert not output.exists()  # refused before anything was written


def test_a_missing_song_archive_is_named(tmp_path):
    folder = tmp_path / "half"
    folder.mkdir()
    (folder / "Audio_Speech_Actors_01-24.zip").write_bytes(b"PK")
    done = _bench("--archive_dir", str(folder), "--output_dir", str(tmp_path / "out"))
    assert done.returncode == 2
    assert "Audio_Song_Actors_01-24.zip" in done.stderr
    assert "Audio_Speech_Actors_01-24.zip" not in done.stderr


def test_a_path_that_is_not_a_folder_is_refused(tmp_path):
    done = _bench("--archive_dir", str(tmp_path / "nowhere"), "--output_dir", str(tmp_path / "o"))
    assert done.returncode == 2
    assert "not a folder" in done.stderr and done.stderr.count("\n") == 1
