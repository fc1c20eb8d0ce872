"""Saving a prepared dataset: hard links to the build cache where possible, the same folder as
`save_to_disk` writes, a copy across file systems, and nothing rewritten when it is current."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import datasets
import pytest

from data_scripts.common.dataset_folder import save_dataset
from data_scripts.corpora.builder import build_corpus
from data_scripts.corpora.prepare import main as prepare
from data_scripts.corpora.ravdess.sample_archives import write_voice_file
from data_scripts.corpora.registry import scan_corpus


def _corpus(root: Path) -> Path:
    for index, emotion in enumerate(("angry", "happy", "sad") * 4):
        write_voice_file(root / emotion / f"s{index % 4}_{index}.wav", emotion, index % 2 == 0,
                         index % 4, sampling_rate=22_050)  # fmt: skip
    return root


def _prepare(data_dir: Path, output: Path, cache: Path) -> None:
    prepare(["--corpus", "folder", "--data_dir", str(data_dir), "--speaker_pattern",
             r"^(s\d)_", "--output_dir", str(output), "--cache_dir", str(cache)])  # fmt: skip


def _arrow_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.arrow"))


def test_saved_folder_links_the_cache_and_equals_save_to_disk(tmp_path):
    scan = scan_corpus("folder", _corpus(tmp_path / "mine"), None, r"^(s\d)_")
    cache, output = tmp_path / "cache", tmp_path / "prepared"
    built = build_corpus(scan, cache)
    save_dataset(built, output)
    cached = {f.stat().st_ino for f in cache.rglob("*.arrow")}
    saved = _arrow_files(output)
    assert saved and {f.stat().st_ino for f in saved} <= cached  # links, not copies
    # The folder save_to_disk writes from the same dataset: byte-identical JSON files, and the
    # loaded datasets are equal.
    reference = tmp_path / "reference"
    built.save_to_disk(str(reference))
    for name in ("state.json", "dataset_info.json"):
        assert (output / name).read_bytes() == (reference / name).read_bytes(), name
    loaded, again = (datasets.load_from_disk(str(d)) for d in (output, reference))
    assert loaded.data.table.equals(again.data.table)
    assert loaded.features == again.features and loaded.info == again.info
    assert len(loaded) == 12
    # Deleting the cache leaves the saved folder whole: its links hold the data.
    del built, loaded
    shutil.rmtree(cache)
    assert datasets.load_from_disk(str(output)).data.table.equals(again.data.table)


def test_a_current_folder_is_left_as_it_is_and_a_stale_one_replaced(tmp_path):
    data_dir = _corpus(tmp_path / "mine")
    output, cache = tmp_path / "prepared", tmp_path / "cache"
    _prepare(data_dir, output, cache)
    before = {f.name: f.stat().st_ino for f in output.iterdir()}
    state = (output / "state.json").stat().st_mtime_ns
    _prepare(data_dir, output, cache)  # the same build: nothing to do
    assert {f.name: f.stat().st_ino for f in output.iterdir()} == before
    assert (output / "state.json").stat().st_mtime_ns == state
    # A changed input is a new build, and the folder is replaced with it.
    write_voice_file(data_dir / "sad" / "s0_99.wav", "sad", True, 0, sampling_rate=22_050)
    _prepare(data_dir, output, cache)
    assert len(datasets.load_from_disk(str(output))) == 13


@pytest.mark.skipif(not Path("/dev/shm").is_dir(), reason="needs a second file system")
def test_across_file_systems_the_dataset_is_copied(tmp_path):
    data_dir = _corpus(tmp_path / "mine")
    cache = Path(tempfile.mkdtemp(dir="/dev/shm"))
    try:
        if os.stat(cache).st_dev == os.stat(tmp_path).st_dev:
            pytest.skip("/dev/shm is on the same file system here")
        output = tmp_path / "prepared"
        _prepare(data_dir, output, cache)
        saved = _arrow_files(output)
        assert saved and all(f.stat().st_nlink == 1 for f in saved)
        assert len(datasets.load_from_disk(str(output))) == 12
        assert json.loads((output / "state.json").read_text())["_data_files"]
    finally:
        shutil.rmtree(cache, ignore_errors=True)


def test_a_dataset_not_read_from_its_cache_is_written_by_save_to_disk(tmp_path):
    data_dir = _corpus(tmp_path / "mine")
    output, cache = tmp_path / "prepared", tmp_path / "cache"
    _prepare(data_dir, output, cache)
    subset = datasets.load_from_disk(str(output)).select([0, 2, 4])  # an indices mapping
    save_dataset(subset, tmp_path / "subset")
    saved = _arrow_files(tmp_path / "subset")
    assert saved and all(f.stat().st_nlink == 1 for f in saved)
    assert datasets.load_from_disk(str(tmp_path / "subset"))["file"] == subset["file"]
