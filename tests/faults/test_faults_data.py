"""Faults on the data side: bad archives, bad CSVs, output folders that must not be lost."""

from __future__ import annotations

import csv
import logging
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import datasets
import pytest

from data_scripts.common.dataset_folder import check_dataset_output
from data_scripts.corpora.prepare import main as prepare_main
from data_scripts.corpora.ravdess.archives import check_members, extract_archive, stream_member
from data_scripts.corpora.ravdess.download import download_and_map
from data_scripts.corpora.ravdess.download import main as download_main
from data_scripts.corpora.ravdess.facts import MAX_MEMBER_BYTES, SONG_ARCHIVE
from data_scripts.corpora.ravdess.mapping import MAPPING_FILE_NAME, map_emotion_data
from data_scripts.corpora.ravdess_corpus import build_ravdess

REPO = Path(__file__).resolve().parents[2]
SONG_NAME = "03-02-01-01-01-01-01.wav"  # song, neutral, actor 01
BOMB_BYTES = 200 * 1024 * 1024  # zeros: about 200 KB deflated


def tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.fixture
def songs_dir(sample_data_dir, tmp_path) -> Path:
    """A private data dir with the sample's song files only, mapped by the real mapping code."""
    copy = tmp_path / "data"
    source = sample_data_dir / "classification_data" / "songs"
    shutil.copytree(source, copy / "classification_data" / "songs")
    map_emotion_data(copy)
    return copy


@pytest.fixture(scope="module")
def bomb_zip(tmp_path_factory) -> Path:
    """A song archive whose one RAVDESS-named member is 200 MB of zeros (about 200 KB)."""
    path = tmp_path_factory.mktemp("bomb") / SONG_ARCHIVE.file_name
    chunk = bytes(1 << 20)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open(f"Actor_01/{SONG_NAME}", "w") as member:
            for _ in range(BOMB_BYTES // len(chunk)):
                member.write(chunk)
    assert path.stat().st_size < 1024 * 1024
    return path


def lying_copy(bomb: Path, folder: Path, declared: int) -> Path:
    """The bomb with its central directory declaring `declared` bytes for the member."""
    data = bytearray(bomb.read_bytes())
    header = data.rindex(b"PK\x01\x02")
    data[header + 24 : header + 28] = declared.to_bytes(4, "little")  # uncompressed size
    folder.mkdir(parents=True, exist_ok=True)
    (folder / bomb.name).write_bytes(bytes(data))
    return folder / bomb.name


def run_command(*arguments: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run(
        [sys.executable, *arguments], cwd=REPO, env=env, capture_output=True, text=True, timeout=300
    )


# --- 1. Output folders that are not ours are never deleted -----------------------------------


def test_prepare_into_its_own_data_dir_is_refused_and_deletes_nothing(songs_dir, capsys):
    before = tree(songs_dir)
    with pytest.raises(SystemExit) as exited:
        prepare_main(["--data_dir", str(songs_dir), "--output_dir", str(songs_dir)])
    assert exited.value.code == 1
    error = capsys.readouterr().err
    assert f"--output_dir {songs_dir}: would replace the input folder" in error
    assert "Traceback" not in error
    assert tree(songs_dir) == before


def test_prepare_refuses_a_folder_that_is_not_a_saved_dataset(songs_dir, tmp_path, capsys):
    output = tmp_path / "mine"
    output.mkdir()
    (output / "notes.txt").write_text("my thesis")
    with pytest.raises(SystemExit):
        prepare_main(["--data_dir", str(songs_dir), "--output_dir", str(output)])
    assert "is not a dataset saved by this command" in capsys.readouterr().err
    assert tree(output) == {"notes.txt": b"my thesis"}


def test_an_empty_output_folder_is_accepted_and_a_stray_file_is_not(tmp_path):
    output = tmp_path / "prepared"
    output.mkdir()
    check_dataset_output(output)
    (output / "state.json").write_text("{}")
    (output / "dataset_info.json").write_text("{}")
    check_dataset_output(output)
    (output / "train.csv").write_text("mine")
    with pytest.raises(ValueError, match="is not a dataset saved by this command"):
        check_dataset_output(output)


def test_prepare_replaces_its_own_earlier_output(songs_dir, tmp_path):
    output, cache = tmp_path / "prepared", str(tmp_path / "cache")
    arguments = ["--data_dir", str(songs_dir), "--output_dir", str(output), "--cache_dir", cache]
    prepare_main([*arguments, "--config", "song", "--num_proc", "1"])
    first = len(datasets.load_from_disk(str(output)))
    (songs_dir / "classification_data" / "songs" / "Actor_01" / SONG_NAME).unlink()
    map_emotion_data(songs_dir)
    prepare_main([*arguments, "--config", "song", "--num_proc", "1"])
    assert len(datasets.load_from_disk(str(output))) == first - 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "data", "prepared"]


def test_prepare_output_dir_that_is_a_file_is_refused_before_any_work(songs_dir, tmp_path, capsys):
    output = tmp_path / "prepared"
    output.write_text("a file")
    cache = tmp_path / "cache"
    with pytest.raises(SystemExit):
        prepare_main(
            ["--data_dir", str(songs_dir), "--output_dir", str(output), "--cache_dir", str(cache)]
        )
    assert f"--output_dir {output}: is a file, not a folder" in capsys.readouterr().err
    assert not cache.exists(), "nothing may be built for an output that cannot be written"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "prepared"]


def test_extraction_never_replaces_a_folder_holding_other_files(tmp_path):
    zip_path = tmp_path / "a.zip"
    with zipfile.ZipFile(zip_path, "w") as archive:
        archive.writestr(f"Actor_01/{SONG_NAME}", b"RIFF")
    destination = tmp_path / "songs"
    destination.mkdir()
    (destination / "my_recordings.wav").write_bytes(b"mine")
    with pytest.raises(ValueError, match="holds files other than Actor_XX"):
        extract_archive(zip_path, destination)
    assert tree(destination) == {"my_recordings.wav": b"mine"}


# --- 4. Unwritable output folders, found before any work --------------------------------------


def test_prepare_output_under_a_file_is_refused_before_any_work(songs_dir, tmp_path, capsys):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where a folder should be")
    with pytest.raises(SystemExit):
        prepare_main(["--data_dir", str(songs_dir), "--output_dir", str(blocker / "prepared")])
    assert f"cannot be created: {blocker} is a file" in capsys.readouterr().err


@pytest.mark.skipif(shutil.which("chattr") is None, reason="needs chattr")
def test_unwritable_folders_are_refused_before_any_work(songs_dir, tmp_path, capsys):
    """An immutable folder refuses writes even to root (permission bits would not)."""
    locked = tmp_path / "locked"
    locked.mkdir()
    if subprocess.run(["chattr", "+i", str(locked)], capture_output=True).returncode != 0:
        pytest.skip("this filesystem does not support immutable folders")
    try:
        cache = tmp_path / "cache"
        with pytest.raises(SystemExit):
            prepare_main(
                [
                    "--data_dir", str(songs_dir), "--output_dir", str(locked / "prepared"),
                    "--cache_dir", str(cache),
                ]
            )  # fmt: skip
        assert f"--output_dir {locked / 'prepared'}: cannot write in {locked}" in (
            capsys.readouterr().err
        )
        assert not cache.exists()
        with pytest.raises(SystemExit):
            download_main(["--data_dir", str(locked), "--archive_dir", str(tmp_path / "none")])
        assert f"--data_dir {locked}: cannot write in {locked}" in capsys.readouterr().err
    finally:
        subprocess.run(["chattr", "-i", str(locked)], check=True)


# --- 5. A mapping CSV whose rows contradict their files ----------------------------------------


def _rewrite_csv(data_dir: Path, change) -> None:
    path = data_dir / MAPPING_FILE_NAME
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    change(rows)
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def test_swapped_audio_paths_are_refused_naming_the_row(songs_dir, tmp_path):
    def swap(rows):
        first = rows[0]
        other = next(r for r in rows if r["emotion"] != first["emotion"])
        first["audio_path"], other["audio_path"] = other["audio_path"], first["audio_path"]

    _rewrite_csv(songs_dir, swap)
    with pytest.raises(ValueError, match=r"line 2 \(03-02-01-01-01-01-01\.wav\): audio_path"):
        build_ravdess(data_dir=songs_dir, config="song", cache_dir=tmp_path / "cache")


def test_emotion_name_that_contradicts_the_emotion_code_is_refused(songs_dir, tmp_path):
    def rename(rows):
        rows[3]["emotion_name"] = "angry"

    _rewrite_csv(songs_dir, rename)
    with pytest.raises(ValueError, match=r"line 5 .*emotion_name 'angry'"):
        build_ravdess(data_dir=songs_dir, config="song", cache_dir=tmp_path / "cache")


# --- 3. Zip bombs and 11. truncated archives ---------------------------------------------------


def test_zip_bomb_is_refused_by_extraction_before_writing(bomb_zip, tmp_path):
    destination = tmp_path / "songs"
    with pytest.raises(ValueError, match=rf"'Actor_01/{SONG_NAME}' refused: declares {BOMB_BYTES}"):
        extract_archive(bomb_zip, destination)
    assert list(tmp_path.iterdir()) == []


def test_zip_bomb_is_refused_by_the_archive_builder(bomb_zip, tmp_path):
    with pytest.raises(ValueError, match=rf"{SONG_NAME}' refused: declares {BOMB_BYTES}"):
        build_ravdess(archive_dir=bomb_zip.parent, config="song", cache_dir=tmp_path / "cache")


def test_zip_bomb_with_a_lying_size_is_stopped_while_streaming(bomb_zip, tmp_path):
    lying = lying_copy(bomb_zip, tmp_path / "archives", declared=1000)
    with pytest.raises(ValueError, match=rf"{SONG_NAME}' refused: corrupt data"):
        extract_archive(lying, tmp_path / "songs")
    assert not (tmp_path / "songs").exists()
    with pytest.raises(ValueError, match=rf"{SONG_NAME}' refused: corrupt data"):
        build_ravdess(archive_dir=lying.parent, config="song", cache_dir=tmp_path / "cache")


def test_streamed_bytes_are_counted_against_the_limit(bomb_zip):
    assert BOMB_BYTES > MAX_MEMBER_BYTES
    sink = open(os.devnull, "wb")
    with zipfile.ZipFile(bomb_zip) as archive, sink:
        info = archive.infolist()[0]
        with pytest.raises(ValueError, match="refused: streams"):
            stream_member(archive, info, sink, max_member_bytes=10 * 1024 * 1024)
        assert stream_member(archive, info, sink, max_member_bytes=BOMB_BYTES) == BOMB_BYTES


def test_truncated_zip_is_named_by_extraction_builder_and_command(sample_archives, tmp_path):
    archives = tmp_path / "archives"
    archives.mkdir()
    for archive in sample_archives.values():
        data = archive.path.read_bytes()
        (archives / archive.path.name).write_bytes(data[: len(data) // 2])
    truncated = archives / SONG_ARCHIVE.file_name
    with pytest.raises(ValueError, match=f"{truncated}: not a readable zip archive"):
        extract_archive(truncated, tmp_path / "songs")
    with pytest.raises(ValueError, match=f"{truncated}: not a readable zip archive"):
        build_ravdess(archive_dir=archives, config="song", cache_dir=tmp_path / "cache")
    result = run_command(
        "data_scripts/download_and_map_emotion_data.py",
        "--data_dir", str(tmp_path / "data"), "--archive_dir", str(archives), "--no_verify",
    )  # fmt: skip
    assert result.returncode == 1
    assert "not a readable zip archive" in result.stderr and "Traceback" not in result.stderr
    assert "--debug" in result.stderr


def test_corrupt_member_fails_naming_it_and_leaves_nothing(tmp_path):
    zip_path = tmp_path / "corrupt.zip"
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr(f"Actor_01/{SONG_NAME}", b"x" * 1000)
    data = bytearray(zip_path.read_bytes())
    data[data.index(b"x" * 1000)] = ord("y")  # fails its CRC check
    zip_path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=rf"'Actor_01/{SONG_NAME}' refused: corrupt data"):
        extract_archive(zip_path, tmp_path / "songs")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corrupt.zip"]


# --- 8. A partial corpus is reported loudly, a subset is described ---------------------------


def test_actor_with_missing_files_is_warned_and_described(songs_dir, tmp_path, caplog):
    for path in sorted((songs_dir / "classification_data/songs/Actor_02").glob("*.wav"))[:3]:
        path.unlink()
    map_emotion_data(songs_dir)
    with caplog.at_level(logging.WARNING, logger="data_scripts.corpora.ravdess_corpus"):
        dataset = build_ravdess(data_dir=songs_dir, config="song", cache_dir=tmp_path / "cache")
    warnings = [r.getMessage() for r in caplog.records if "PARTIAL CORPUS" in r.getMessage()]
    assert len(warnings) == 1 and "song actor 02: 41 files of 44" in warnings[0]
    description = dataset.info.description
    assert "per actor 01:44, 02:41, 03:44, 04:44" in description
    assert "INCOMPLETE" in description and "song actor 02: 41 files of 44" in description


def test_requested_channel_without_files_is_warned(songs_dir, tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="data_scripts.corpora.ravdess_corpus"):
        dataset = build_ravdess(data_dir=songs_dir, config="all", cache_dir=tmp_path / "cache")
    warnings = [r.getMessage() for r in caplog.records if "PARTIAL CORPUS" in r.getMessage()]
    assert warnings == [f"PARTIAL CORPUS in {songs_dir}: speech: no files at all"]
    assert "speech: 0 files; per actor none." in dataset.info.description


def test_complete_subset_of_actors_is_described_without_warning(songs_dir, tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="data_scripts.corpora.ravdess_corpus"):
        dataset = build_ravdess(data_dir=songs_dir, config="song", cache_dir=tmp_path / "cache")
    assert not [r for r in caplog.records if "PARTIAL CORPUS" in r.getMessage()]
    assert "A subset of RAVDESS: 4 of 24 actors." in dataset.info.description
    assert "Every actor present has all of its RAVDESS files." in dataset.info.description
    assert "INCOMPLETE" not in dataset.info.description


def test_download_command_with_debug_shows_the_traceback(tmp_path):
    archives = tmp_path / "archives"
    archives.mkdir()
    (archives / SONG_ARCHIVE.file_name).write_bytes(b"PK\x03\x04 not really")
    speech = archives / "Audio_Speech_Actors_01-24.zip"
    speech.write_bytes(b"PK\x03\x04 not really")
    result = run_command(
        "-m", "data_scripts.download_and_map_emotion_data", "--data_dir", str(tmp_path / "d"),
        "--archive_dir", str(archives), "--no_verify", "--debug",
    )  # fmt: skip
    assert result.returncode == 1
    assert "Traceback" in result.stderr
    assert f"error: {speech}: not a readable zip archive" in result.stderr


def test_members_are_checked_against_the_declared_limit(bomb_zip):
    with pytest.raises(ValueError, match="declares"):
        check_members(bomb_zip)
    assert len(check_members(bomb_zip, max_member_bytes=BOMB_BYTES)) == 1


def test_download_and_map_in_a_fresh_folder_still_works(sample_archives, tmp_path):
    checksums = {a.path.name: (a.size, a.md5) for a in sample_archives.values()}
    summary = download_and_map(
        tmp_path / "new" / "data",
        archive_dir=sample_archives["song"].path.parent,
        checksums=checksums,
    )
    assert summary.rows == sum(a.files for a in sample_archives.values())


def test_sample_archives_never_overwrite_a_real_archive(tmp_path):
    from data_scripts.corpora.ravdess.sample_archives import write_sample_archives

    real = tmp_path / SONG_ARCHIVE.file_name
    with zipfile.ZipFile(real, "w") as archive:
        archive.writestr(f"Actor_01/{SONG_NAME}", b"a real recording")
    before = real.read_bytes()
    with pytest.raises(ValueError, match="is not a sample archive"):
        write_sample_archives(tmp_path, actors=[1], seconds=(0.1, 0.1))
    assert real.read_bytes() == before
    real.unlink()
    write_sample_archives(tmp_path, actors=[1], seconds=(0.1, 0.1))
    inode = real.stat().st_ino
    again = write_sample_archives(tmp_path, actors=[1], seconds=(0.1, 0.1))  # its own: replaced
    assert again["song"].files == 44 and real.stat().st_ino != inode


def test_stand_in_checkpoint_never_overwrites_a_real_checkpoint(tmp_path):
    from training.demo.stand_in_checkpoint import write_ctc_checkpoint

    tiny = REPO / "configs" / "models" / "tiny.json"
    real = tmp_path / "real"
    real.mkdir()
    (real / "model.safetensors").write_bytes(b"fine-tuned weights")
    with pytest.raises(ValueError, match="holds a checkpoint that is not a stand-in"):
        write_ctc_checkpoint(tiny, real)
    assert (real / "model.safetensors").read_bytes() == b"fine-tuned weights"
    stand_in = tmp_path / "stand_in"
    first = write_ctc_checkpoint(tiny, stand_in).read_bytes()
    assert write_ctc_checkpoint(tiny, stand_in).read_bytes() == first  # its own: replaced
