"""ser-export and --push_to_dir on a trained tiny group-norm, weighted-layer model: what the
export holds, checked from a process without the project, and every refusal."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from pipeline_helpers import pipeline_probabilities
from training_helpers import REPO, predictions_table, read_json, run_command, run_env, train_command

from data_scripts.ravdess_facts import EMOTIONS

# A copy of the run that users would not ship: everything but these is left behind.
EXPORTED = {
    "config.json", "model.safetensors", "preprocessor_config.json", "README.md",
    "test_results.json", "test_predictions.csv", "split.json", "run_info.json",
    "confusion_matrix.png", "training_curves.png", "manifest.json",
}  # fmt: skip
ONNX_FILES = {"model.onnx", "model.int8.onnx"}


def _export(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "training.inference.export", *args],
        cwd=REPO, env=run_env(), capture_output=True, text=True, timeout=600,
    )  # fmt: skip


@pytest.fixture(scope="module")
def run_and_push(checkpoint, sample_data_dir, train_cache, tmp_path_factory):
    """A finished run (the presets' group norm and weighted layers) pushed with --push_to_dir."""
    root = tmp_path_factory.mktemp("export")
    run, pushed = root / "run", root / "pushed"
    run_command(
        train_command(
            checkpoint, run,
            "--data_dir", str(sample_data_dir), "--cache_dir", str(train_cache),
            "--vocal_channel", "speech", "--num_train_epochs", "2",
            "--pooling", "weighted_layers", "--push_to_dir", str(pushed),
        )
    )  # fmt: skip
    return run, pushed


@pytest.fixture(scope="module")
def onnx_export(run_and_push):
    run, _ = run_and_push
    dest = run.parent / "with_onnx"
    result = _export(str(run), str(dest), "--onnx", "--quantize", "int8")
    assert result.returncode == 0, result.stderr[-4000:]
    return dest


def test_pushed_folder_holds_the_model_and_results_and_nothing_else(run_and_push):
    run, pushed = run_and_push
    assert {p.name for p in pushed.iterdir()} == EXPORTED
    assert any(run.glob("checkpoint-*")) and (run / "training_args.bin").is_file()
    manifest = read_json(pushed / "manifest.json")
    assert manifest["source"] == {"path": str(run), "kind": "training run"}
    checked = manifest["verification"]["pipeline"]
    _, rows = predictions_table(run)
    assert checked["clips"] == len(rows) and checked["reference"] == "test_predictions.csv"
    assert manifest["versions"]["transformers"] and manifest["versions"]["torch"]
    recorded = read_json(run / "run_info.json")["model_file"]["sha256"]
    assert recorded == hashlib.sha256((run / "model.safetensors").read_bytes()).hexdigest()


_CHECK_SCRIPT = r"""
import hashlib, json, sys
from pathlib import Path
import numpy as np, onnxruntime, soundfile, torch, torchaudio
from transformers import AutoFeatureExtractor
assert "training" not in sys.modules and "data_scripts" not in sys.modules
dest, files = Path(sys.argv[1]), json.loads(sys.stdin.read())
manifest = json.loads((dest / "manifest.json").read_text())
on_disk = sorted(p.name for p in dest.iterdir() if p.name != "manifest.json")
assert on_disk == sorted(manifest["files"]), on_disk
for name, entry in manifest["files"].items():
    data = (dest / name).read_bytes()
    assert len(data) == entry["size"] and hashlib.sha256(data).hexdigest() == entry["sha256"], name
labels = json.loads((dest / "config.json").read_text())["id2label"]
extractor = AutoFeatureExtractor.from_pretrained(dest)
answers = {}
for file_name in ("model.onnx", "model.int8.onnx"):
    session = onnxruntime.InferenceSession(str(dest / file_name))
    for path in files:
        audio, rate = soundfile.read(path, dtype="float32", always_2d=True)
        mono = torch.from_numpy(audio.mean(axis=1, dtype=np.float32))
        mono = torchaudio.functional.resample(mono, rate, extractor.sampling_rate).numpy()
        values = extractor(mono, sampling_rate=extractor.sampling_rate, return_tensors="np")
        values = values["input_values"]
        (logits,) = session.run(["logits"], {"input_values": values.astype(np.float32)})
        p = np.exp(logits[0] - logits[0].max()); p /= p.sum()
        named = {labels[str(i)]: float(v) for i, v in enumerate(p)}
        answers.setdefault(file_name, {})[path] = named
assert "training" not in sys.modules and "data_scripts" not in sys.modules
print(json.dumps(answers))
"""


def test_export_answers_like_the_run_in_a_process_without_the_project(
    run_and_push, onnx_export, sample_data_dir
):
    """Checksums, pipeline on DEST and onnxruntime on model.onnx all equal the run's table."""
    run, _ = run_and_push
    assert {p.name for p in onnx_export.iterdir()} == EXPORTED | ONNX_FILES
    _, rows = predictions_table(run)
    paths = {path.name: path for path in sample_data_dir.rglob("*.wav")}
    files = [str(paths[row["file"]]) for row in rows]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run(
        [sys.executable, "-c", _CHECK_SCRIPT, str(onnx_export)], input=json.dumps(files),
        cwd=onnx_export.parent, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    onnx_answers = json.loads(result.stdout.strip().splitlines()[-1])
    piped = pipeline_probabilities(onnx_export, [Path(f) for f in files])
    agree = 0
    for row, path in zip(rows, files, strict=True):
        for answers in (piped[path], onnx_answers["model.onnx"][path]):
            assert max(answers, key=answers.get) == row["predicted_emotion"], row["file"]
            for name in EMOTIONS:
                assert answers[name] == pytest.approx(float(row[f"prob_{name}"]), abs=1e-4)
        int8 = onnx_answers["model.int8.onnx"][path]
        agree += max(int8, key=int8.get) == row["predicted_emotion"]
    recorded = read_json(onnx_export / "manifest.json")["verification"]["int8"]
    assert recorded["label_agreement"] == pytest.approx(agree / len(rows))
    card = (onnx_export / "README.md").read_text()
    assert "## Export" in card and "equal length" in card and "model.int8.onnx" in card


def test_check_names_missing_changed_and_extra_files(onnx_export, tmp_path):
    assert _export("--check", str(onnx_export)).returncode == 0
    copy = tmp_path / "copy"
    shutil.copytree(onnx_export, copy)
    (copy / "model.int8.onnx").unlink()
    with open(copy / "model.safetensors", "r+b") as handle:  # same size, one byte changed
        handle.seek(200)
        byte = handle.read(1)
        handle.seek(200)
        handle.write(bytes([byte[0] ^ 1]))
    (copy / "notes.txt").write_text("mine")
    result = _export("--check", str(copy))
    assert result.returncode == 1
    assert f"{copy}: missing: model.int8.onnx" in result.stderr
    assert f"{copy}: changed: model.safetensors (SHA-256 differs" in result.stderr
    assert f"{copy}: extra: notes.txt" in result.stderr


def test_foreign_dest_is_refused_and_left_as_it_was(run_and_push, tmp_path):
    run, pushed = run_and_push
    dest = tmp_path / "mine"
    dest.mkdir()
    (dest / "thesis.tex").write_text("years of work")
    result = _export(str(run), str(dest))
    assert result.returncode == 1
    assert f"error: DEST {dest}: exists and is not an export" in result.stderr
    assert [p.name for p in dest.iterdir()] == ["thesis.tex"]
    earlier = _export(str(run), str(pushed))  # an export of ours, but no --overwrite
    assert "holds an earlier export; pass --overwrite" in earlier.stderr
    assert _export(str(run), str(run / "exported")).returncode == 1
    assert not (run / "exported").exists()


def test_unfinished_run_is_refused(run_and_push, tmp_path):
    run, _ = run_and_push
    unfinished = tmp_path / "unfinished"
    shutil.copytree(next(run.glob("checkpoint-*")), unfinished / "checkpoint-1")
    (unfinished / "config.json").write_text((run / "config.json").read_text())
    result = _export(str(unfinished), str(tmp_path / "dest"))
    assert result.returncode == 1
    assert f"error: SOURCE {unfinished}: an unfinished training run" in result.stderr
    assert not (tmp_path / "dest").exists()


def test_model_changed_after_training_is_refused(run_and_push, tmp_path):
    run, _ = run_and_push
    altered = tmp_path / "altered"
    shutil.copytree(run, altered, ignore=shutil.ignore_patterns("checkpoint-*", "runs"))
    with open(altered / "model.safetensors", "ab") as handle:
        handle.write(b"\0")
    result = _export(str(altered), str(tmp_path / "dest"))
    assert result.returncode == 1
    assert "model.safetensors was changed after training" in result.stderr
    assert not (tmp_path / "dest").exists()


def test_answers_that_differ_from_the_table_fail_the_export_and_leave_no_dest(
    run_and_push, tmp_path
):
    """The table and the model disagree (one row's probabilities moved): no DEST appears."""
    run, _ = run_and_push
    source = tmp_path / "source"
    shutil.copytree(run, source, ignore=shutil.ignore_patterns("checkpoint-*", "runs"))
    lines = (source / "test_predictions.csv").read_text().splitlines()
    fields = lines[1].split(",")
    fields[-1] = f"{float(fields[-1]) + 0.01:.6f}"
    lines[1] = ",".join(fields)
    (source / "test_predictions.csv").write_text("\n".join(lines) + "\n")
    result = _export(str(source), str(tmp_path / "dest"), "--verify_files", "2")
    assert result.returncode == 1
    assert "pipeline on the export: probabilities differ by up to 1.00e-02" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["source"]  # no DEST, no staging


@pytest.mark.parametrize(
    "extra, message",
    [
        (("--push_to_dir", "{run}/exported"), "is inside --output_dir"),
        (("--push_to_dir", "{run}"), "is inside --output_dir"),
        (("--push_to_dir", "{tmp}/elsewhere", "--cv_folds", "3"), "--push_to_dir with --cv_folds"),
    ],
)
def test_push_to_dir_is_refused_before_any_training(checkpoint, tmp_path, extra, message, capsys):
    from training.wav2vec2_classification import main

    run = tmp_path / "run"
    words = [w.format(run=run, tmp=tmp_path) for w in extra]
    command = train_command(checkpoint, run, "--dataset_dir", str(tmp_path), *words)
    with pytest.raises(SystemExit) as stopped:
        main(command[2:])
    assert stopped.value.code == 1
    assert message in capsys.readouterr().err
    assert not run.exists()
