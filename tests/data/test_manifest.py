"""A CSV manifest of your own audio: rows become the standard dataset shape with their metadata,
and every bad row is refused with one line naming the CSV's line and what to do."""

from __future__ import annotations

import os

import datasets
import pytest

from data_scripts.corpora.prepare import main as prepare
from data_scripts.corpora.ravdess.sample_archives import write_voice_file


@pytest.fixture
def clips(tmp_path):
    """Three clips beside (and below) the manifest's folder."""
    folder = tmp_path / "project"
    write_voice_file(folder / "a.wav", "angry", True, 1, sampling_rate=16_000)
    write_voice_file(folder / "audio" / "b.wav", "happy", False, 2, sampling_rate=16_000)
    write_voice_file(folder / "audio" / "c.wav", "sad", False, 2, sampling_rate=8_000)
    return folder


def _write(folder, text: str):
    path = folder / "clips.csv"
    path.write_text(text)
    return path


def _run(tmp_path, manifest, *extra):
    output = tmp_path / "prepared"
    prepare([
        "--corpus", "manifest", "--manifest", str(manifest), "--output_dir", str(output),
        "--cache_dir", str(tmp_path / "cache"), *extra,
    ])  # fmt: skip
    return datasets.load_from_disk(str(output))


def test_manifest_rows_keep_labels_speakers_genders_and_metadata(tmp_path, clips):
    manifest = _write(
        clips,
        "path,label,speaker,gender,session\n"
        "a.wav,anger,s1,M,mon\naudio/b.wav,happy,s2,female,tue\naudio/c.wav,Sadness,s2,,wed\n",
    )
    dataset = _run(tmp_path, manifest)
    names = dataset.features["label"].names
    assert names == ["angry", "happy", "sad"]
    rows = {
        r["file"]: (names[r["label"]], r["speaker"], r["gender"], r["session"], r["corpus"])
        for r in dataset.remove_columns("audio")
    }
    assert rows == {
        "a.wav": ("angry", "s1", "male", "mon", "clips"),
        "audio/b.wav": ("happy", "s2", "female", "tue", "clips"),
        "audio/c.wav": ("sad", "s2", "", "wed", "clips"),
    }
    c = next(r for r in dataset if r["file"] == "audio/c.wav")
    assert c["audio"]["sampling_rate"] == 16_000 and c["length"] == len(c["audio"]["array"])


BAD_ROWS = [
    ("a.wav,angry\nmissing.wav,sad\n", "line 3: missing.wav: no such file"),
    ("a.wav,angry\nnotes.wav,sad\n", "line 3: notes.wav is not audio that soundfile reads"),
    ("a.wav,\n", "line 2: empty label"),
    ("a.wav,frustrated\n", "line 2: unknown label 'frustrated'"),
    ("a.wav,angry\n./a.wav,sad\n", "line 3: ./a.wav is the same file as line 2"),
    ("../outside.wav,angry\n", "line 2: ../outside.wav leaves the manifest's folder"),
    ("link.wav,angry\n", "line 2: link.wav leaves the manifest's folder"),
    (",angry\n", "line 2: empty path"),
]


@pytest.mark.parametrize("rows, reason", BAD_ROWS, ids=[r for _, r in BAD_ROWS])
def test_a_bad_manifest_row_is_refused_naming_its_line(rows, reason, tmp_path, clips, capsys):
    (clips / "notes.wav").write_text("not audio")
    write_voice_file(tmp_path / "outside.wav", "angry", True, 1)
    os.symlink(tmp_path / "outside.wav", clips / "link.wav")
    manifest = _write(clips, "path,label\n" + rows)
    with pytest.raises(SystemExit) as stopped:
        _run(tmp_path, manifest)
    assert stopped.value.code == 1
    assert not (tmp_path / "prepared").exists()
    (error,) = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert f"{manifest}, {reason}" in error


def test_speaker_with_two_genders_and_missing_columns_are_refused(tmp_path, clips, capsys):
    two = _write(clips, "path,label,speaker,gender\na.wav,angry,s1,male\naudio/b.wav,sad,s1,f\n")
    with pytest.raises(SystemExit):
        _run(tmp_path, two)
    assert "line 3: speaker s1 is female here but male on line 2" in capsys.readouterr().err
    no_label = _write(clips, "file,emotion\na.wav,angry\n")
    with pytest.raises(SystemExit):
        _run(tmp_path, no_label)
    assert "no path and no label column (found: file, emotion)" in capsys.readouterr().err


def test_paths_outside_the_folder_are_accepted_with_allow_outside(tmp_path, clips):
    write_voice_file(tmp_path / "outside.wav", "fearful", True, 1, sampling_rate=16_000)
    manifest = _write(clips, "path,label\n../outside.wav,fear\na.wav,angry\n")
    dataset = _run(tmp_path, manifest, "--allow_outside")
    assert sorted(dataset["file"]) == ["../outside.wav", "a.wav"]
