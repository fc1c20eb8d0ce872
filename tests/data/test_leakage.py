"""The leakage audit: the same audio in training and test is refused before training, naming
both files; copies inside a split are counted; prepare stores each clip's fingerprint."""

from __future__ import annotations

import shutil
import subprocess
import sys

import datasets
import numpy as np
import pytest
from training_helpers import REPO, run_command, run_env, train_command

from data_scripts.common.audio_hash import audio_sha256
from data_scripts.corpora.ravdess.sample_archives import write_voice_file
from training.data.leakage import audit_split
from training.reports.split_guarantees import split_guarantees_section


def _split(files: dict[str, np.ndarray], speakers: list[str] | None = None) -> datasets.Dataset:
    columns = {
        "audio": [{"array": a, "sampling_rate": 16_000} for a in files.values()],
        "file": list(files),
    }
    if speakers is not None:
        columns["speaker"] = speakers
    return datasets.Dataset.from_dict(columns)


def _clips(count: int) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.normal(0, 0.1, 1600).astype(np.float32) for _ in range(count)]


def test_the_same_audio_in_train_and_test_is_refused_naming_both_files():
    a, b, c, d = _clips(4)
    splits = {
        "train": _split({"a.wav": a, "b.wav": b}),
        "validation": _split({"c.wav": c}),
        "test": _split({"copy_of_b.wav": b.copy(), "d.wav": d}),
    }
    with pytest.raises(ValueError) as refused:
        audit_split(splits, allow_duplicates=False)
    message = str(refused.value)
    assert "training (b.wav) and test (copy_of_b.wav)" in message
    assert "--allow_duplicates" in message
    audit = audit_split(splits, allow_duplicates=True)
    assert audit["across_splits"] == 1 and audit["allowed_duplicates"] is True
    card = split_guarantees_section({"leakage": audit})
    assert "b.wav = copy_of_b.wav (test)" in card and "--allow_duplicates" in card


def test_copies_inside_one_split_are_counted_and_speakers_checked():
    a, b, c = _clips(3)
    splits = {
        "train": _split({"a.wav": a, "a2.wav": a.copy(), "a3.wav": a.copy()}, ["s1", "s1", "s2"]),
        "validation": _split({"b.wav": b}, ["s3"]),
        "test": _split({"c.wav": c}, ["s2"]),
    }
    audit = audit_split(splits, allow_duplicates=False)
    assert audit["within_split_duplicates"] == {"train": 2, "validation": 0, "test": 0}
    assert audit["across_splits"] == 0
    assert audit["speakers_disjoint"] is False  # s2 is in train and test
    assert "computed" in audit["fingerprint"]  # no prepared column: hashed at training time
    card = split_guarantees_section({"leakage": audit})
    assert "NOT disjoint" in card and "train 2" in card


def test_prepare_stores_fingerprints_and_training_refuses_a_copied_clip(checkpoint, tmp_path):
    folder = tmp_path / "clips"
    for label in ("angry", "happy"):
        for n in range(8):
            write_voice_file(folder / label / f"{label}_{n}.wav", label, n % 2 == 0, n,
                             sampling_rate=16_000, seconds=(0.5, 0.7))  # fmt: skip
    for n in range(6):  # a user's re-exports: one recording under six other names
        shutil.copy(folder / "angry" / "angry_0.wav", folder / "angry" / f"export_{n}.wav")
    prepared = tmp_path / "prepared"
    run_command([sys.executable, "-m", "data_scripts.corpora.prepare", "--corpus", "folder",
                 "--data_dir", str(folder), "--output_dir", str(prepared),
                 "--cache_dir", str(tmp_path / "cache")])  # fmt: skip
    dataset = datasets.load_from_disk(str(prepared))
    rows = {row["file"]: row for row in dataset}
    for row in rows.values():
        assert row["audio_sha256"] == audio_sha256(np.asarray(row["audio"]["array"], np.float32))
    copies = {rows[f]["audio_sha256"] for f in rows if "angry_0" in f or "export_" in f}
    assert len(copies) == 1
    output = tmp_path / "run"
    result = subprocess.run(
        train_command(checkpoint, output, "--dataset_dir", str(prepared)),
        cwd=REPO, env=run_env(), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "the same audio is in training (" in errors[0]
    assert "--allow_duplicates" in errors[0] and (
        "angry_0.wav" in errors[0] or "export_" in errors[0]
    )
    assert not output.exists()  # refused before anything was written
