"""ser-export and --push_to_dir on a trained tiny group-norm, weighted-layer model: what the
export holds, checked from a process without the project, and every refusal."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
from training_helpers import REPO, predictions_table, read_json, run_command, run_env, train_command

from data_scripts.corpora.ravdess.facts import EMOTIONS
from training.inference.export import main

# A copy of the run that users would not ship: everything but these is left behind.
EXPORTED = {
    "config.json", "model.safetensors", "preprocessor_config.json", "README.md",
    "test_results.json", "test_predictions.csv", "split.json", "run_info.json",
    "confusion_matrix.png", "training_curves.png", "manifest.json",
    "validation_predictions.csv", "calibration.json", "reliability_diagram.png",
}  # fmt: skip
ONNX_FILES = {"model.onnx", "model.int8.onnx"}


def _export(capsys, *args: str) -> tuple[int, str]:
    """The export command in this process (its checks run their own fresh process): exit
    status and what it printed to stderr."""
    try:
        status = main(list(args))
    except SystemExit as stopped:
        status = stopped.code
    return status, capsys.readouterr().err


@pytest.fixture(scope="module")
def run_and_push(checkpoint, sample_data_dir, train_cache, tmp_path_factory):
    """A finished run (the presets' group norm and weighted layers) pushed with --push_to_dir."""
    root = tmp_path_factory.mktemp("export")
    run, pushed = root / "run", root / "pushed"
    run_command(
        train_command(
            checkpoint, run,
            "--data_dir", str(sample_data_dir), "--cache_dir", str(train_cache),
            "--vocal_channel", "speech", "--num_train_epochs", "1",
            "--pooling", "weighted_layers", "--push_to_dir", str(pushed),
        )
    )  # fmt: skip
    return run, pushed


@pytest.fixture(scope="module")
def onnx_export(run_and_push):
    run, _ = run_and_push
    dest = run.parent / "with_onnx"
    assert main([str(run), str(dest), "--onnx", "--quantize", "int8"]) == 0
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
from transformers import AutoFeatureExtractor, pipeline
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
classify = pipeline("audio-classification", model=str(dest), device="cpu")
sessions = {name: onnxruntime.InferenceSession(str(dest / name))
            for name in ("model.onnx", "model.int8.onnx")}
answers = {"pipeline": {}, "model.onnx": {}, "model.int8.onnx": {}}
for path in files:
    audio, rate = soundfile.read(path, dtype="float32", always_2d=True)
    mono = audio.mean(axis=1, dtype=np.float32)
    scores = classify({"raw": mono, "sampling_rate": rate}, top_k=None)
    answers["pipeline"][path] = {s["label"]: s["score"] for s in scores}
    mono = torchaudio.functional.resample(torch.from_numpy(mono), rate, extractor.sampling_rate)
    values = extractor(mono.numpy(), sampling_rate=extractor.sampling_rate, return_tensors="np")
    for name, session in sessions.items():
        inputs = {"input_values": values["input_values"].astype(np.float32)}
        (logits,) = session.run(["logits"], inputs)
        p = np.exp(logits[0] - logits[0].max()); p /= p.sum()
        answers[name][path] = {labels[str(i)]: float(v) for i, v in enumerate(p)}
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
    agree = 0
    for row, path in zip(rows, files, strict=True):
        for answers in (onnx_answers["pipeline"][path], onnx_answers["model.onnx"][path]):
            assert max(answers, key=answers.get) == row["predicted_emotion"], row["file"]
            for name in EMOTIONS:
                assert answers[name] == pytest.approx(float(row[f"prob_{name}"]), abs=1e-4)
        int8 = onnx_answers["model.int8.onnx"][path]
        agree += max(int8, key=int8.get) == row["predicted_emotion"]
    recorded = read_json(onnx_export / "manifest.json")["verification"]["int8"]
    assert recorded["label_agreement"] == pytest.approx(agree / len(rows))
    card = (onnx_export / "README.md").read_text()
    assert "## Export" in card and "equal length" in card and "model.int8.onnx" in card


def test_check_names_missing_changed_and_extra_files(onnx_export, tmp_path, capsys):
    assert _export(capsys, "--check", str(onnx_export))[0] == 0
    copy = tmp_path / "copy"
    shutil.copytree(onnx_export, copy)
    (copy / "model.int8.onnx").unlink()
    with open(copy / "model.safetensors", "r+b") as handle:  # same size, one byte changed
        handle.seek(200)
        byte = handle.read(1)
        handle.seek(200)
        handle.write(bytes([byte[0] ^ 1]))
    (copy / "notes.txt").write_text("mine")
    status, err = _export(capsys, "--check", str(copy))
    assert status == 1
    assert f"{copy}: missing: model.int8.onnx" in err
    assert f"{copy}: changed: model.safetensors (SHA-256 differs" in err
    assert f"{copy}: extra: notes.txt" in err


def test_foreign_dest_is_refused_and_left_as_it_was(run_and_push, tmp_path, capsys):
    run, pushed = run_and_push
    dest = tmp_path / "mine"
    dest.mkdir()
    (dest / "thesis.tex").write_text("years of work")
    status, err = _export(capsys, str(run), str(dest))
    assert status == 1
    assert f"error: DEST {dest}: exists and is not an export" in err
    assert [p.name for p in dest.iterdir()] == ["thesis.tex"]
    _, err = _export(capsys, str(run), str(pushed))  # an export of ours, but no --overwrite
    assert "holds an earlier export; pass --overwrite" in err
    status, err = _export(capsys, str(run), str(run / "exported"))
    assert status == 1 and "is inside SOURCE" in err
    assert not (run / "exported").exists()


def test_unfinished_run_is_refused(run_and_push, tmp_path, capsys):
    run, _ = run_and_push
    unfinished = tmp_path / "unfinished"
    shutil.copytree(next(run.glob("checkpoint-*")), unfinished / "checkpoint-1")
    (unfinished / "config.json").write_text((run / "config.json").read_text())
    status, err = _export(capsys, str(unfinished), str(tmp_path / "dest"))
    assert status == 1
    assert f"error: SOURCE {unfinished}: an unfinished training run" in err
    assert not (tmp_path / "dest").exists()


def test_model_changed_after_training_is_refused(run_and_push, tmp_path, capsys):
    run, _ = run_and_push
    altered = tmp_path / "altered"
    shutil.copytree(run, altered, ignore=shutil.ignore_patterns("checkpoint-*", "runs"))
    with open(altered / "model.safetensors", "ab") as handle:
        handle.write(b"\0")
    status, err = _export(capsys, str(altered), str(tmp_path / "dest"))
    assert status == 1
    assert "model.safetensors was changed after training" in err
    assert not (tmp_path / "dest").exists()


def test_answers_that_differ_from_the_table_fail_the_export_and_leave_no_dest(
    run_and_push, tmp_path, capsys
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
    status, err = _export(capsys, str(source), str(tmp_path / "dest"), "--verify_files", "2")
    assert status == 1
    assert "pipeline on the export: probabilities differ by up to 1.00e-02" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["source"]  # no DEST, no staging


@pytest.mark.parametrize(
    "extra, message",
    [
        (("--push_to_dir", "{run}/exported"), "is inside --output_dir"),
        (("--push_to_dir", "{run}"), "is inside --output_dir"),
        (("--push_to_dir", "{tmp}"), "holds --output_dir"),
        (("--push_to_dir", "{tmp}/elsewhere", "--cv_folds", "3"), "--push_to_dir with --cv_folds"),
    ],
)
def test_push_to_dir_is_refused_before_any_training(checkpoint, tmp_path, extra, message, capsys):
    from training.wav2vec2_classification import main as train

    run = tmp_path / "run"
    words = [w.format(run=run, tmp=tmp_path) for w in extra]
    command = train_command(checkpoint, run, "--dataset_dir", str(tmp_path), *words)
    with pytest.raises(SystemExit) as stopped:
        train(command[2:])
    assert stopped.value.code == 1
    assert message in capsys.readouterr().err
    assert not run.exists()


def test_predict_with_onnxruntime_gives_the_pytorch_backends_outputs(
    onnx_export, sample_data_dir, tmp_path, capsys
):
    """Same files, same JSON fields and labels; model.int8.onnx by --onnx_file; a folder
    without the file names the command that creates it."""
    from training.inference import predict

    files = [str(p) for p in sorted(sample_data_dir.rglob("*.wav"))[:6]]
    outputs = {}
    int8 = ["--onnx_file", "model.int8.onnx"]
    for backend, extra in (("pytorch", []), ("onnxruntime", []), ("int8", int8)):
        json_path = tmp_path / f"{backend}.json"
        chosen = "pytorch" if backend == "pytorch" else "onnxruntime"
        argv = ["--model_dir", str(onnx_export), "--backend", chosen, "--json", str(json_path)]
        assert predict.main([*argv, *extra, *files]) == 0
        outputs[backend] = read_json(json_path)["results"]
    for torch_result, onnx_result in zip(outputs["pytorch"], outputs["onnxruntime"], strict=True):
        assert onnx_result.keys() == torch_result.keys()
        assert onnx_result["emotion"] == torch_result["emotion"]
        for label, probability in torch_result["probabilities"].items():
            assert onnx_result["probabilities"][label] == pytest.approx(probability, abs=1e-4)
    assert [r["file"] for r in outputs["int8"]] == files
    bare = tmp_path / "bare"
    shutil.copytree(onnx_export, bare, ignore=shutil.ignore_patterns("*.onnx"))
    status = predict.main(["--model_dir", str(bare), "--backend", "onnxruntime", files[0]])
    assert status == 2
    assert (
        f"error: --model_dir {bare}: no model.onnx; create it with: python -m "
        f"training.inference.export SOURCE {bare} --onnx" in capsys.readouterr().err
    )


def test_cross_validation_folder_needs_a_fold(tmp_path, capsys):
    cv = tmp_path / "cv"
    for fold in (0, 1, 2):
        (cv / f"fold_{fold}").mkdir(parents=True)
    (cv / "cv_results.json").write_text("{}")
    status, err = _export(capsys, str(cv), str(tmp_path / "dest"))
    assert status == 1
    assert "a cross-validation folder holds one model per fold; export one with --fold K" in err
    assert "(folds here: 0, 1, 2)" in err
    status, err = _export(capsys, str(cv), str(tmp_path / "dest"), "--fold", "5")
    assert status == 1 and f"--fold 5: {cv / 'fold_5'} does not exist" in err
    assert not (tmp_path / "dest").exists()


@pytest.mark.faults
def test_killed_export_leaves_no_dest_and_the_rerun_completes(run_and_push, tmp_path):
    run, _ = run_and_push
    dest = tmp_path / "dest"
    process = subprocess.Popen(
        [sys.executable, "-m", "training.inference.export", str(run), str(dest), "--onnx"],
        cwd=REPO, env=run_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 300
    try:
        while not list(tmp_path.glob(".dest.export-*/model.safetensors")):
            assert process.poll() is None, "the export ended before it was killed"
            assert time.monotonic() < deadline
            time.sleep(0.1)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert not dest.exists()
    assert main([str(run), str(dest), "--verify_files", "2"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dest"]  # the stale staging is gone
    assert read_json(dest / "manifest.json")["verification"]["pipeline"]["clips"] == 2
