"""RAVDESS extraction (corpora.ravdess.archives on common.extract): safe members only, atomic
folders, completed extractions skipped."""

from __future__ import annotations

import stat
import zipfile

import pytest

from data_scripts.common.download import file_md5
from data_scripts.common.extract import COMPLETE_MARKER
from data_scripts.corpora.ravdess.archives import extract_archive

GOOD_NAME = "03-01-01-01-01-01-01.wav"  # speech, neutral, actor 01
OTHER_GOOD_NAME = "03-01-02-01-01-01-01.wav"
WAV_BYTES = b"RIFF....WAVEfmt "  # extraction copies bytes; it does not decode


def write_zip(path, members):
    """members: (name, data) or (ZipInfo, data), stored uncompressed."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        for name, data in members:
            archive.writestr(name, data)
    return path


def test_sample_archive_extracted_to_actor_folders(sample_archives, tmp_path):
    archive = sample_archives["speech"]
    destination = tmp_path / "speech"
    files = extract_archive(archive.path, destination, vocal_channel="speech")
    with zipfile.ZipFile(archive.path) as zf:
        expected = {i.filename: zf.read(i) for i in zf.infolist() if not i.is_dir()}
    assert len(files) == archive.files == len(expected)
    assert [f.relative_to(destination).as_posix() for f in files] == sorted(expected)
    assert all(f.read_bytes() == expected[f.relative_to(destination).as_posix()] for f in files)
    assert (destination / COMPLETE_MARKER).read_text().strip() == archive.md5


@pytest.mark.parametrize(
    ("member", "reason"),
    [
        ("../" + GOOD_NAME, r"'\.\.'"),
        ("Actor_01/../../" + GOOD_NAME, r"'\.\.'"),
        ("/tmp/Actor_01/" + GOOD_NAME, "absolute path"),
        ("C:/Actor_01/" + GOOD_NAME, "absolute path"),
    ],
)
def test_path_escaping_member_refused(tmp_path, member, reason):
    zip_path = write_zip(
        tmp_path / "evil.zip", [("Actor_01/" + OTHER_GOOD_NAME, WAV_BYTES), (member, WAV_BYTES)]
    )
    destination = tmp_path / "out" / "speech"
    with pytest.raises(ValueError, match=reason) as raised:
        extract_archive(zip_path, destination)
    assert "evil.zip" in str(raised.value) and repr(member) in str(raised.value)
    assert not (tmp_path / "out").exists()  # refused before anything was written
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["evil.zip"]


def test_symlink_member_refused(tmp_path):
    link = zipfile.ZipInfo("Actor_01/" + GOOD_NAME)
    link.create_system = 3  # Unix, so the mode bits in external_attr count
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    zip_path = write_zip(tmp_path / "links.zip", [(link, b"/etc/passwd")])
    destination = tmp_path / "out"
    with pytest.raises(ValueError, match="symbolic link") as raised:
        extract_archive(zip_path, destination)
    assert "links.zip" in str(raised.value) and GOOD_NAME in str(raised.value)
    assert not destination.exists()


@pytest.mark.parametrize(
    ("member", "reason"),
    [
        ("notes.txt", "not of the form"),
        ("Actor_01/notes.txt", "not a RAVDESS file name"),
        ("Actor_01/bad-name.wav", "not a RAVDESS file name"),
        ("Actor_01/03-01-09-01-01-01-01.wav", "emotion code 09"),
        ("Actor_02/" + GOOD_NAME, "actor 01 in the file name, but folder Actor_02"),
        ("Actor_25/03-01-01-01-01-01-25.wav", "folder 'Actor_25'"),
        ("Actor_01/extra/" + GOOD_NAME, "not of the form"),
        ("Actor_01/03-02-01-01-01-01-01.wav", "a song file in the speech archive"),
        ("__MACOSX/", "directory other than"),
    ],
)
def test_junk_member_refused(tmp_path, member, reason):
    zip_path = write_zip(
        tmp_path / "junk.zip",
        [("Actor_01/", b""), ("Actor_01/" + GOOD_NAME, WAV_BYTES), (member, b"junk")],
    )
    destination = tmp_path / "speech"
    with pytest.raises(ValueError, match=reason) as raised:
        extract_archive(zip_path, destination, vocal_channel="speech")
    assert "junk.zip" in str(raised.value) and repr(member) in str(raised.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["junk.zip"]


def test_duplicate_member_refused(tmp_path):
    zip_path = tmp_path / "dup.zip"
    with pytest.warns(UserWarning, match="Duplicate name"):
        write_zip(zip_path, [("Actor_01/" + GOOD_NAME, WAV_BYTES)] * 2)
    with pytest.raises(ValueError, match="duplicate member"):
        extract_archive(zip_path, tmp_path / "out")


def test_failure_midway_leaves_no_folder_under_final_name(tmp_path):
    zip_path = write_zip(
        tmp_path / "corrupt.zip",
        [("Actor_01/" + GOOD_NAME, WAV_BYTES), ("Actor_01/" + OTHER_GOOD_NAME, b"x" * 1000)],
    )
    data = bytearray(zip_path.read_bytes())
    data[data.index(b"x" * 1000)] = ord("y")  # the second member now fails its CRC check
    zip_path.write_bytes(bytes(data))
    destination = tmp_path / "speech"
    with pytest.raises(ValueError, match=f"{OTHER_GOOD_NAME}' refused: corrupt data"):
        extract_archive(zip_path, destination)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corrupt.zip"]


def test_completed_extraction_skipped_on_rerun(tmp_path):
    zip_path = write_zip(tmp_path / "a.zip", [("Actor_01/" + GOOD_NAME, WAV_BYTES)])
    destination = tmp_path / "speech"
    first = extract_archive(zip_path, destination)
    before = {p: p.stat().st_mtime_ns for p in destination.rglob("*")} | {
        destination: destination.stat().st_ino
    }
    second = extract_archive(zip_path, destination)
    after = {p: p.stat().st_mtime_ns for p in destination.rglob("*")} | {
        destination: destination.stat().st_ino
    }
    assert first == second == [destination / "Actor_01" / GOOD_NAME]
    assert after == before


def test_folder_of_another_archive_replaced(tmp_path):
    old_zip = write_zip(tmp_path / "old.zip", [("Actor_01/" + GOOD_NAME, b"old")])
    new_zip = write_zip(tmp_path / "new.zip", [("Actor_01/" + OTHER_GOOD_NAME, b"new")])
    destination = tmp_path / "speech"
    extract_archive(old_zip, destination)
    files = extract_archive(new_zip, destination)
    assert files == [destination / "Actor_01" / OTHER_GOOD_NAME]
    assert files[0].read_bytes() == b"new"
    assert (destination / COMPLETE_MARKER).read_text().strip() == file_md5(new_zip)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new.zip", "old.zip", "speech"]


def test_folder_without_marker_is_extracted_again(tmp_path):
    zip_path = write_zip(tmp_path / "a.zip", [("Actor_01/" + GOOD_NAME, WAV_BYTES)])
    destination = tmp_path / "speech"
    (destination / "Actor_01").mkdir(parents=True)
    (destination / "Actor_01" / OTHER_GOOD_NAME).write_bytes(b"left by a run without a marker")
    files = extract_archive(zip_path, destination)
    assert sorted(destination.rglob("*.wav")) == files == [destination / "Actor_01" / GOOD_NAME]


@pytest.mark.parametrize("damage", ["missing", "cut", "extra"])
def test_marked_folder_that_is_not_the_whole_archive_is_extracted_again(tmp_path, caplog, damage):
    """A marker over a damaged folder (left by two downloads that shared a staging folder, or
    a file lost since) used to say `already extracted; skipped` for ever."""
    zip_path = write_zip(
        tmp_path / "a.zip",
        [("Actor_01/" + GOOD_NAME, WAV_BYTES), ("Actor_01/" + OTHER_GOOD_NAME, WAV_BYTES * 2)],
    )
    destination = tmp_path / "speech"
    extract_archive(zip_path, destination)
    victim = destination / "Actor_01" / OTHER_GOOD_NAME
    if damage == "missing":
        victim.unlink()
    elif damage == "cut":
        victim.write_bytes(WAV_BYTES)
    else:
        (destination / "Actor_02").mkdir()
        (destination / "Actor_02" / "03-01-01-01-01-01-02.wav").write_bytes(WAV_BYTES)
    files = extract_archive(zip_path, destination)
    assert [f.relative_to(destination).as_posix() for f in files] == [
        "Actor_01/" + GOOD_NAME,
        "Actor_01/" + OTHER_GOOD_NAME,
    ]
    assert victim.read_bytes() == WAV_BYTES * 2
    assert f"{destination}: marked complete, but " in caplog.text
    assert "extracting" in caplog.text and "again" in caplog.text
