"""`ser-compare` on hand-written per-file tables whose differences are known file by file."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from training.reports.paired_comparison import smallest_resolvable_difference

NAMES = ["neutral", "happy", "sad", "angry"]
BIN = Path(sys.executable).parent


def _write_table(folder: Path, rows: list[tuple[str, str, str, str]]) -> Path:
    """rows: (file, speaker, true, predicted); probabilities favour the predicted class."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "test_predictions.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["file", "speaker", "true_emotion", "predicted_emotion"] + [f"prob_{n}" for n in NAMES]
        )
        for file, speaker, true, predicted in rows:
            probabilities = [0.7 if n == predicted else 0.1 for n in NAMES]
            writer.writerow([file, speaker, true, predicted, *probabilities])
    return folder


def _rows(right: set[int], files: int = 40, speakers: int = 4):
    """File i of speaker i // (files / speakers), true label NAMES[i % 4]; right where i in
    `right`, else the next class."""
    per = files // speakers
    return [
        (
            f"f{i:02d}.wav",
            f"s{i // per}",
            NAMES[i % 4],
            NAMES[i % 4] if i in right else NAMES[(i + 1) % 4],
        )
        for i in range(files)
    ]


def _compare(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}")
    return subprocess.run(
        ["ser-compare", *args], capture_output=True, text=True, env=env, timeout=120
    )


def test_a_gain_of_one_file_per_speaker_is_resolved_with_a_zero_width_interval(tmp_path):
    """A is right on 7 of each speaker's 10 files, B on the same 7 and one more: B - A is 0.1
    for every speaker, so every resample gives 0.1; McNemar: 4 files only B gets right and none
    only A, p = 2 x 0.5^4 = 0.125."""
    a_right = {i for i in range(40) if i % 10 < 7}
    b_right = a_right | {i for i in range(40) if i % 10 == 7}
    a = _write_table(tmp_path / "a", _rows(a_right))
    b = _write_table(tmp_path / "b", _rows(b_right))
    result = _compare(str(a), str(b), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    accuracy = report["metrics"]["accuracy"]
    assert accuracy["a"] == pytest.approx(0.7) and accuracy["b"] == pytest.approx(0.8)
    assert accuracy["difference"] == pytest.approx(0.1)
    assert accuracy["low"] == pytest.approx(0.1) and accuracy["high"] == pytest.approx(0.1)
    assert report["mcnemar"] == {"only_a_right": 0, "only_b_right": 4, "p_value": 0.125}
    assert report["speakers"] == 4 and report["files"] == 40 and report["resamples"] == 1000
    assert report["verdict"].startswith("B is more accurate: B - A = +10.0 points")
    text = _compare(str(a), str(b)).stdout
    assert "Verdict: B is more accurate" in text and "p = 0.1250" in text


def test_mcnemar_counts_files_each_system_alone_gets_right(tmp_path):
    """B loses 2 of A's files and gains 8: p = 2 x (1 + 10 + 45) / 2^10 = 0.109375."""
    a_right = set(range(20))
    b_right = (a_right - {0, 1}) | set(range(20, 28))
    a = _write_table(tmp_path / "a", _rows(a_right))
    b = _write_table(tmp_path / "b", _rows(b_right))
    report = json.loads(_compare(str(a), str(b), "--json").stdout)
    assert report["mcnemar"] == {"only_a_right": 2, "only_b_right": 8, "p_value": 0.109375}
    assert report["metrics"]["accuracy"]["difference"] == pytest.approx(6 / 40)


def test_identical_runs_have_no_resolved_difference(tmp_path):
    rows = _rows(set(range(0, 40, 2)))
    a = _write_table(tmp_path / "a", rows)
    b = _write_table(tmp_path / "b", rows)
    report = json.loads(_compare(str(a), str(b), "--json").stdout)
    assert report["metrics"]["accuracy"]["difference"] == 0
    assert report["metrics"]["accuracy"]["p_value"] == 1.0
    assert report["verdict"].startswith("No resolved difference")


def test_runs_tested_on_different_files_are_refused_naming_the_first(tmp_path):
    rows = _rows(set(range(20)))
    a = _write_table(tmp_path / "a", rows)
    b = _write_table(tmp_path / "b", [("f00b.wav", *rows[0][1:]), *rows[1:]])
    result = _compare(str(a), str(b))
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == [
        f"error: not tested on the same files: f00.wav is only in {a} "
        f"(1 files only in {a}, 1 only in {b})"
    ]


def test_a_folder_without_a_per_file_table_is_refused(tmp_path):
    a = _write_table(tmp_path / "a", _rows(set(range(20))))
    empty = tmp_path / "not_a_run"
    empty.mkdir()
    result = _compare(str(a), str(empty))
    assert result.returncode == 1
    assert f"error: {empty}: no test_predictions.csv" in result.stderr
    assert "Traceback" not in result.stderr


def test_cross_validation_folders_are_compared_on_all_folds_pooled(tmp_path):
    rows = _rows(set(range(0, 40, 2)))
    better = _rows(set(range(0, 40, 2)) | {1, 11, 21, 31})
    for name, table in (("a", rows), ("b", better)):
        _write_table(tmp_path / name / "fold_0", table[:20])
        _write_table(tmp_path / name / "fold_1", table[20:])
    report = json.loads(_compare(str(tmp_path / "a"), str(tmp_path / "b"), "--json").stdout)
    assert report["files"] == 40
    assert report["mcnemar"]["only_b_right"] == 4


def test_more_speakers_resolve_a_smaller_difference():
    rng = np.random.default_rng(0)
    few = smallest_resolvable_difference(rng.random(40) < 0.6, np.repeat(np.arange(4), 10))
    many = smallest_resolvable_difference(rng.random(400) < 0.6, np.repeat(np.arange(40), 10))
    assert many is not None and few is not None and many < few
    assert smallest_resolvable_difference(np.ones(40, bool), np.repeat(np.arange(4), 10)) is None


def test_a_file_with_another_true_label_is_refused_naming_it(tmp_path):
    rows = _rows(set(range(20)))
    relabelled = [(rows[3][0], rows[3][1], "sad" if rows[3][2] != "sad" else "happy", rows[3][3])]
    a = _write_table(tmp_path / "a", rows)
    b = _write_table(tmp_path / "b", rows[:3] + relabelled + rows[4:])
    result = _compare(str(a), str(b))
    assert result.returncode == 1
    assert f"error: f03.wav: true label {rows[3][2]} in {a} but {relabelled[0][2]} in {b}" in (
        result.stderr
    )
