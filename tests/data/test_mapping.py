"""The label map and the whole download-and-map command, on the offline sample archives."""

from __future__ import annotations

import hashlib
import logging
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from http_helpers import serve_directory

from data_scripts.corpora.ravdess.download import archive_url, download_and_map
from data_scripts.corpora.ravdess.facts import (
    ACTORS,
    ARCHIVES,
    DEFAULT_BASE_URL,
    FILES_PER_ACTOR,
    file_names_for_actor,
    parse_file_name,
)
from data_scripts.corpora.ravdess.mapping import (
    COLUMNS,
    MAPPING_FILE_NAME,
    map_emotion_data,
    read_mapping,
    write_mapping,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = REPO_ROOT / "data_scripts" / "download_and_map_emotion_data.py"
# Nothing listens on the discard port: a run that touched the network would fail.
UNREACHABLE_URL = "http://127.0.0.1:9"
COMMAND_TIMEOUT_SECONDS = 120


def sample_checksums(sample_archives):
    return {a.path.name: (a.size, a.md5) for a in sample_archives.values()}


@pytest.fixture(scope="module")
def mapped(sample_archives, tmp_path_factory):
    """(data_dir, summary) after a run on the sample archives taken from disk."""
    data_dir = tmp_path_factory.mktemp("mapped")
    summary = download_and_map(
        data_dir,
        base_url=UNREACHABLE_URL,
        archive_dir=sample_archives["speech"].path.parent,
        checksums=sample_checksums(sample_archives),
    )
    return data_dir, summary


@pytest.fixture
def data_copy(mapped, tmp_path):
    """A private copy of the extracted sample, for tests that add files to it."""
    data_dir, _ = mapped
    shutil.copytree(data_dir / "classification_data", tmp_path / "classification_data")
    return tmp_path


def test_every_row_matches_its_file_name(mapped):
    data_dir, summary = mapped
    rows = read_mapping(data_dir / MAPPING_FILE_NAME)
    assert len(rows) == summary.rows
    for row in rows:
        name = parse_file_name(row["audio_name"])
        assert row["emotion"] == name.emotion_code
        assert row["emotion_name"] == name.emotion
        assert row["audio_type"] == row["vocal_channel"] == name.vocal_channel
        for column in ("modality", "intensity", "statement", "repetition", "actor", "gender"):
            assert row[column] == getattr(name, column), (row, column)
        folder = "speech" if name.vocal_channel == "speech" else "songs"
        expected_path = f"classification_data/{folder}/Actor_{name.actor:02d}/{name.file_name}"
        assert row["audio_path"] == expected_path
        assert (data_dir / row["audio_path"]).is_file()


def test_audio_ids_run_in_sorted_order(mapped):
    data_dir, _ = mapped
    rows = read_mapping(data_dir / MAPPING_FILE_NAME)
    assert [row["audio_id"] for row in rows] == list(range(len(rows)))
    speech = [row["audio_path"] for row in rows if row["audio_type"] == "speech"]
    song = [row["audio_path"] for row in rows if row["audio_type"] == "song"]
    assert [row["audio_path"] for row in rows] == sorted(speech) + sorted(song)


def test_counts_match_the_sample(mapped, sample_archives):
    data_dir, summary = mapped
    assert summary.per_archive == {"speech": 240, "song": 176}
    assert summary.per_archive == {k: a.files for k, a in sample_archives.items()}
    for kind in ("speech", "song"):
        assert summary.per_actor[kind] == {actor: FILES_PER_ACTOR[kind] for actor in (1, 2, 3, 4)}
    with open(data_dir / MAPPING_FILE_NAME) as handle:
        assert handle.readline().strip() == ",".join(COLUMNS)
    assert summary.skipped == []


def test_sample_count_differences_listed(mapped):
    _, summary = mapped
    assert "speech: 240 files, expected 1440" in summary.differences
    assert "song: 176 files, expected 1012" in summary.differences
    absent = ", ".join(f"{a:02d}" for a in range(5, 25))
    assert f"speech: no files for actors {absent}" in summary.differences
    absent_song = ", ".join(f"{a:02d}" for a in range(5, 25) if a != 18)
    assert f"song: no files for actors {absent_song}" in summary.differences


def test_unparsable_name_left_out_and_counted(data_copy, caplog):
    bad = data_copy / "classification_data" / "speech" / "Actor_01" / "03-01-09-01-01-01-01.wav"
    bad.write_bytes(b"")
    moved = data_copy / "classification_data" / "songs" / "Actor_02" / "03-02-01-01-01-01-01.wav"
    moved.write_bytes(b"")  # actor 01's name in actor 02's folder
    with caplog.at_level(logging.WARNING):
        summary = map_emotion_data(data_copy)
    assert [path for path, _ in summary.skipped] == [str(bad), str(moved)]
    assert "emotion code 09" in summary.skipped[0][1]
    assert "does not match folder Actor_02" in summary.skipped[1][1]
    assert summary.per_archive == {"speech": 240, "song": 176}
    names = {row["audio_name"] for row in read_mapping(summary.csv_path)}
    assert bad.name not in names
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(str(bad) in message and "emotion code 09" in message for message in warnings)


def test_count_mismatch_warned(data_copy, caplog):
    removed = data_copy / "classification_data" / "speech" / "Actor_03" / "03-01-05-02-01-01-03.wav"
    removed.unlink()
    with caplog.at_level(logging.WARNING):
        map_emotion_data(data_copy)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("speech: 239 files, expected 1440" in message for message in warnings)
    assert any(
        "speech actor 03: 59 files, expected 60; missing 03-01-05-02-01-01-03.wav" in message
        for message in warnings
    )


def write_empty_corpus(data_dir):
    """Every RAVDESS name as an empty file: mapping reads names, not audio."""
    for archive in ARCHIVES:
        for actor in ACTORS:
            folder = data_dir / "classification_data" / archive.folder / f"Actor_{actor:02d}"
            folder.mkdir(parents=True, exist_ok=True)
            for name in file_names_for_actor(actor, archive.audio_type):
                (folder / name).write_bytes(b"")


def test_full_corpus_counts_without_warning(tmp_path, caplog):
    write_empty_corpus(tmp_path)
    with caplog.at_level(logging.WARNING):
        summary = map_emotion_data(tmp_path)
    assert summary.per_archive == {"speech": 1440, "song": 1012}
    assert summary.per_actor["song"].get(18) is None
    assert summary.differences == []
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_song_for_actor_18_warned(tmp_path, caplog):
    write_empty_corpus(tmp_path)
    folder = tmp_path / "classification_data" / "songs" / "Actor_18"
    (folder / "03-02-01-01-01-01-18.wav").write_bytes(b"")
    with caplog.at_level(logging.WARNING):
        summary = map_emotion_data(tmp_path)
    assert summary.differences == [
        "song: 1013 files, expected 1012",
        "song actor 18: 1 files not in RAVDESS (expected 0): 03-02-01-01-01-01-18.wav",
    ]
    assert sum("COUNT MISMATCH" in r.getMessage() for r in caplog.records) == 2


def test_failed_write_keeps_previous_csv(mapped, tmp_path):
    data_dir, _ = mapped
    csv_path = tmp_path / MAPPING_FILE_NAME
    shutil.copy(data_dir / MAPPING_FILE_NAME, csv_path)
    before = csv_path.read_bytes()
    rows = read_mapping(csv_path)
    del rows[5]["gender"]
    with pytest.raises(ValueError, match="lacks columns"):
        write_mapping(rows, csv_path)
    assert csv_path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [MAPPING_FILE_NAME]


def test_read_mapping_refuses_other_columns(tmp_path):
    csv_path = tmp_path / "other.csv"
    csv_path.write_text("audio_id,audio_name\n0,x.wav\n")
    with pytest.raises(ValueError, match="other.csv: columns"):
        read_mapping(csv_path)


def test_zenodo_url_asks_for_the_file_and_mirrors_are_left_alone():
    name = ARCHIVES[0].file_name
    assert archive_url(DEFAULT_BASE_URL, name) == f"{DEFAULT_BASE_URL}/{name}?download=1"
    assert archive_url("http://mirror.example/ravdess/", name) == (
        f"http://mirror.example/ravdess/{name}"
    )


def test_archive_dir_checked_against_official_checksums(sample_archives, tmp_path):
    with pytest.raises(ValueError, match="Audio_Speech_Actors_01-24.zip: size .* expected"):
        download_and_map(
            tmp_path, base_url=UNREACHABLE_URL, archive_dir=sample_archives["speech"].path.parent
        )
    assert not (tmp_path / "classification_data").exists()


def test_archive_dir_with_wrong_checksum_refused(sample_archives, tmp_path):
    checksums = sample_checksums(sample_archives)
    name = sample_archives["song"].path.name
    checksums[name] = (checksums[name][0], "f" * 32)
    with pytest.raises(ValueError, match=f"{name}: MD5 .*, expected {'f' * 32}"):
        download_and_map(
            tmp_path,
            base_url=UNREACHABLE_URL,
            archive_dir=sample_archives["speech"].path.parent,
            checksums=checksums,
        )
    assert not (tmp_path / "classification_data" / "songs").exists()


def test_command_downloads_from_mirror_extracts_and_maps(sample_archives, tmp_path):
    data_dir = tmp_path / "data"
    with serve_directory(sample_archives["speech"].path.parent) as server:
        command = [sys.executable, str(SCRIPT), "--data_dir", str(data_dir)]
        command += ["--base_url", server.url, "--no_verify"]
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=COMMAND_TIMEOUT_SECONDS, cwd=tmp_path
        )
    assert result.returncode == 0, result.stderr
    assert sorted(r.path for r in server.requests) == sorted(
        f"/{a.path.name}" for a in sample_archives.values()
    )
    for archive in sample_archives.values():
        downloaded = data_dir / "archives" / archive.path.name
        assert hashlib.md5(downloaded.read_bytes()).hexdigest() == archive.md5
    rows = read_mapping(data_dir / MAPPING_FILE_NAME)
    assert len(rows) == sum(a.files for a in sample_archives.values())
    assert f"Mapping: {data_dir / MAPPING_FILE_NAME} (416 files)" in result.stdout
    assert "speech: 240 files (expected 1440)" in result.stdout
    assert "not checked" in result.stderr


def test_module_command_fails_clearly_on_missing_archive_dir(tmp_path):
    command = [sys.executable, "-m", "data_scripts.download_and_map_emotion_data"]
    command += ["--data_dir", str(tmp_path / "data"), "--archive_dir", str(tmp_path / "none")]
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=COMMAND_TIMEOUT_SECONDS, cwd=REPO_ROOT
    )
    assert result.returncode == 1
    assert f"error: {tmp_path / 'none' / ARCHIVES[0].file_name}: archive not found" in (
        result.stderr
    )


def test_archive_dir_run_downloads_nothing(mapped):
    data_dir, summary = mapped
    assert not (data_dir / "archives").exists()
    assert summary.rows == 416


def test_rerun_fetches_and_extracts_nothing(sample_archives, tmp_path):
    checksums = sample_checksums(sample_archives)
    with serve_directory(sample_archives["speech"].path.parent) as server:
        download_and_map(tmp_path, base_url=server.url, checksums=checksums)
        speech = tmp_path / "classification_data" / "speech"
        inode = speech.stat().st_ino
        requests_after_first_run = len(server.requests)
        summary = download_and_map(tmp_path, base_url=server.url, checksums=checksums)
    assert requests_after_first_run == 2
    assert len(server.requests) == 2
    assert speech.stat().st_ino == inode
    assert summary.rows == 416


@pytest.mark.parametrize(
    ("file_name", "fields"),
    [
        (
            "03-01-05-02-01-01-03.wav",
            ("speech", "angry", "strong", 1, 1, 3, "male"),
        ),
        (
            "03-02-06-01-02-02-12.wav",
            ("song", "fearful", "normal", 2, 2, 12, "female"),
        ),
    ],
)
def test_literal_file_names_decode_to_the_documented_fields(file_name, fields):
    """RAVDESS's documentation, written out by hand: channel, emotion, intensity, statement,
    repetition, actor, gender."""
    name = parse_file_name(file_name)
    decoded = (
        name.vocal_channel,
        name.emotion,
        name.intensity,
        name.statement,
        name.repetition,
        name.actor,
        name.gender,
    )
    assert decoded == fields
    assert name.modality == "audio-only"
