"""Continuous targets in prepared corpora: manifest and folder inputs keep them as numbers with
their range in corpus.json, with or without a label, and every bad value is refused in one line
naming the CSV's line or the target."""

from __future__ import annotations

import json

import datasets
import pytest

from data_scripts.corpora.prepare import main as prepare
from data_scripts.corpora.ravdess.sample_archives import write_voice_file


@pytest.fixture
def clips(tmp_path):
    folder = tmp_path / "project"
    for name, emotion in (("a", "angry"), ("b", "happy"), ("c", "sad")):
        write_voice_file(folder / emotion / f"{name}.wav", emotion, True, 1, sampling_rate=16_000)
    return folder


def _run(tmp_path, *flags):
    output = tmp_path / "prepared"
    prepare([*flags, "--output_dir", str(output), "--cache_dir", str(tmp_path / "cache")])
    return datasets.load_from_disk(str(output)), json.loads((output / "corpus.json").read_text())


def _manifest(clips, text: str):
    path = clips / "ratings.csv"
    path.write_text(text)
    return path


def _refused(tmp_path, capsys, *flags) -> str:
    with pytest.raises(SystemExit) as stopped:
        _run(tmp_path, *flags)
    assert stopped.value.code != 0 and not (tmp_path / "prepared").exists()
    return capsys.readouterr().err


def test_manifest_targets_are_numbers_with_their_range_recorded(tmp_path, clips):
    manifest = _manifest(
        clips,
        "path,label,speaker,arousal,valence,note\n"
        "angry/a.wav,angry,s1,4.5,-0.25,x\nhappy/b.wav,happy,s2,3,0.75,y\nsad/c.wav,sad,s2,1.5,-1,z\n",
    )
    dataset, record = _run(tmp_path, "--corpus", "manifest", "--manifest", str(manifest),
                           "--target_columns", "arousal,valence")  # fmt: skip
    assert dataset.features["arousal"].dtype == "float32"
    rows = {r["file"]: (r["arousal"], r["valence"], r["note"])
            for r in dataset.remove_columns("audio")}  # fmt: skip
    assert rows == {"angry/a.wav": (4.5, -0.25, "x"), "happy/b.wav": (3.0, 0.75, "y"),
                    "sad/c.wav": (1.5, -1.0, "z")}  # fmt: skip
    assert record["facts"]["targets"] == {"arousal": [1.5, 4.5], "valence": [-1.0, 0.75]}
    assert dataset.features["label"].names == ["angry", "happy", "sad"]


def test_a_manifest_of_targets_only_has_no_label(tmp_path, clips):
    manifest = _manifest(clips, "path,dominance\nangry/a.wav,7\nhappy/b.wav,2\nsad/c.wav,1\n")
    dataset, record = _run(tmp_path, "--corpus", "manifest", "--manifest", str(manifest),
                           "--target_columns", "dominance")  # fmt: skip
    assert dataset.features["label"].names == [] and set(dataset["label"]) == {-1}
    assert record["facts"]["targets"] == {"dominance": [1.0, 7.0]}


BAD_VALUES = [
    ("angry/a.wav,angry,4\nhappy/b.wav,happy,\n", "line 3: no arousal value"),
    ("angry/a.wav,angry,4\nhappy/b.wav,happy,high\n", "line 3: arousal 'high' is not a number"),
    ("angry/a.wav,angry,nan\n", "line 2: arousal 'nan' is not a finite number"),
    ("angry/a.wav,angry,3\nhappy/b.wav,happy,3\n", "target arousal is 3 on every row"),
]


@pytest.mark.parametrize("rows, reason", BAD_VALUES, ids=[r for _, r in BAD_VALUES])
def test_a_bad_target_value_is_refused_by_line_or_name(tmp_path, clips, capsys, rows, reason):
    manifest = _manifest(clips, "path,label,arousal\n" + rows)
    error = _refused(tmp_path, capsys, "--corpus", "manifest", "--manifest", str(manifest),
                     "--target_columns", "arousal")  # fmt: skip
    assert f"{manifest}{',' if 'line' in reason else ':'} {reason}" in error


def test_a_target_column_the_manifest_lacks_is_named(tmp_path, clips, capsys):
    manifest = _manifest(clips, "path,label,arousal\nangry/a.wav,angry,4\n")
    error = _refused(tmp_path, capsys, "--corpus", "manifest", "--manifest", str(manifest),
                     "--target_columns", "arousal,valence")  # fmt: skip
    assert "no valence column for --target_columns (found: path, label, arousal)" in error


def test_label_folders_take_their_targets_from_a_csv(tmp_path, clips, capsys):
    ratings = tmp_path / "ratings.csv"
    ratings.write_text("path,arousal\nangry/a.wav,5\nhappy/b.wav,4\nsad/c.wav,1\n")
    flags = ("--corpus", "folder", "--data_dir", str(clips), "--target_columns", "arousal")
    dataset, record = _run(tmp_path, *flags, "--targets_file", str(ratings))
    assert {r["file"]: r["arousal"] for r in dataset.remove_columns("audio")} == {
        "angry/a.wav": 5.0, "happy/b.wav": 4.0, "sad/c.wav": 1.0}  # fmt: skip
    assert record["facts"]["targets"] == {"arousal": [1.0, 5.0]}
    ratings.write_text("path,arousal\nangry/a.wav,5\nhappy/b.wav,4\n")
    error = _refused(tmp_path / "again", capsys, *flags, "--targets_file", str(ratings))
    assert f"sad/c.wav: no row in --targets_file {ratings}" in error


def test_targets_on_a_named_corpus_are_refused(tmp_path, clips, capsys):
    error = _refused(tmp_path, capsys, "--corpus", "tess", "--data_dir", str(clips),
                     "--target_columns", "arousal")  # fmt: skip
    assert "--target_columns is for --corpus manifest or folder, not tess" in error
