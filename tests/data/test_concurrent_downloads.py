"""Several downloads at once into one --data_dir, as real processes against a real HTTP server:
each must finish with the whole corpus, and nothing damaged may be marked complete."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from http_helpers import serve_directory

from data_scripts.corpora.ravdess.facts import ACTORS, ARCHIVES, file_names_for_actor

REPO = Path(__file__).resolve().parents[2]
# download_and_map with the test archives' checksums, from a URL or a local --archive_dir.
DOWNLOAD = (
    "import json, sys\n"
    "from data_scripts.corpora.ravdess.download import download_and_map\n"
    "where = {sys.argv[2]: sys.argv[3]}\n"
    "download_and_map(sys.argv[1], checksums=json.loads(sys.argv[4]), **where)\n"
)


def _full_size_archives(folder: Path) -> dict[str, tuple[int, str]]:
    """Both archives with every RAVDESS file name (2452 members; random bytes, stored, so the
    extraction takes long enough for runs to overlap). Returns {name: (size, md5)}."""
    folder.mkdir()
    rng = np.random.default_rng(0)
    checksums = {}
    for archive in ARCHIVES:
        path = folder / archive.file_name
        with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
            for actor in ACTORS:
                for name in file_names_for_actor(actor, archive.audio_type):
                    zf.writestr(f"Actor_{actor:02d}/{name}", rng.bytes(8_000))
        data = path.read_bytes()
        checksums[archive.file_name] = (len(data), hashlib.md5(data).hexdigest())
    return checksums


@pytest.mark.faults
@pytest.mark.parametrize("source", ["base_url", "archive_dir"])
def test_three_downloads_at_once_into_one_data_dir_all_end_complete(source, tmp_path):
    """Before the folder lock, 4 of 6 tries of two such downloads left 749-805 of 832 files
    under the final name with the `.complete` marker, and every later run skipped them."""
    served = tmp_path / "served"
    checksums = _full_size_archives(served)
    data_dir = tmp_path / "data"
    env = dict(os.environ, PYTHONPATH=str(REPO), PYTHONUNBUFFERED="1")
    with serve_directory(served) as server:
        where = server.url if source == "base_url" else str(served)
        command = [sys.executable, "-c", DOWNLOAD, str(data_dir), source, where,
                   json.dumps(checksums)]  # fmt: skip
        runs = [
            subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
            for _ in range(3)
        ]  # fmt: skip
        outcomes = [run.communicate(timeout=400) for run in runs]
    assert [run.returncode for run in runs] == [0, 0, 0], [err[-2000:] for _, err in outcomes]
    mapped = 0
    for archive in ARCHIVES:
        destination = data_dir / "classification_data" / archive.folder
        with zipfile.ZipFile(served / archive.file_name) as zf:
            members = {info.filename for info in zf.infolist()}
            extracted = {p.relative_to(destination).as_posix() for p in destination.rglob("*.wav")}
            assert extracted == members, f"{archive.folder}: {len(extracted)} of {len(members)}"
            for name in sorted(members):
                assert (destination / name).read_bytes() == zf.read(name), name
        mapped += len(members)
    with open(data_dir / "emotional_data_mappings.csv", newline="") as handle:
        assert len(list(csv.DictReader(handle))) == mapped == 1440 + 1012
    # No staging folder or partial download left behind.
    assert sorted(p.name for p in (data_dir / "classification_data").iterdir()) == [
        "songs",
        "speech",
    ]
    if source == "base_url":
        assert sorted(p.name for p in (data_dir / "archives").iterdir()) == sorted(checksums)
