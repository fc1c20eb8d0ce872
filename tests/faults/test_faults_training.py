"""Faults of the training and predict commands: refused before any work, one line, nothing lost."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch
from model_helpers import (
    TORCH_ADVICE,
    RunsCode,
    one_clip_dataset,
    save_classifier_holding_code,
    save_tiny_classifier,
)
from training_helpers import REPO, TINY_CONFIG, TRAIN_CONFIG, run_env

from data_scripts.corpora.ravdess.mapping import map_emotion_data
from training.inference.predict import main as predict_main
from training.run_folder.run_lock import LOCK_FILE_NAME, RunLock
from training.wav2vec2_classification import main as train_main


def _arguments(checkpoint: Path, output_dir: Path, data_dir: Path, *extra: str) -> list[str]:
    return [
        "--train_config", str(TRAIN_CONFIG),
        "--model_path", str(checkpoint / "pytorch_model.bin"),
        "--config_path", str(checkpoint / "config.json"),
        "--data_dir", str(data_dir), "--output_dir", str(output_dir), *extra,
    ]  # fmt: skip


def _refused(arguments: list[str], capsys) -> str:
    """The error output of a training run that must stop with exit code 1 and no traceback."""
    with pytest.raises(SystemExit) as exited:
        train_main(arguments)
    assert exited.value.code == 1
    error = capsys.readouterr().err
    assert "Traceback" not in error
    return error


# --- inputs and output folders, checked before anything is created ----------------------------


def test_missing_model_is_refused_before_the_output_folder_exists(
    sample_data_dir, tmp_path, capsys
):
    output = tmp_path / "run"
    missing = tmp_path / "nowhere" / "pytorch_model.bin"
    error = _refused(
        [
            "--model_path",
            str(missing),
            "--data_dir",
            str(sample_data_dir),
            "--output_dir",
            str(output),
        ],
        capsys,
    )
    assert f"--model_path {missing}: no such file or folder" in error
    assert not output.exists()


def test_data_dir_without_mapping_is_refused_before_the_output_folder_exists(
    checkpoint, tmp_path, capsys
):
    output = tmp_path / "run"
    error = _refused(_arguments(checkpoint, output, tmp_path), capsys)
    assert f"--data_dir {tmp_path}: no emotional_data_mappings.csv" in error
    assert not output.exists()


def test_output_dir_that_is_a_file_is_refused(checkpoint, sample_data_dir, tmp_path, capsys):
    output = tmp_path / "run"
    output.write_text("a file")
    error = _refused(_arguments(checkpoint, output, sample_data_dir), capsys)
    assert f"--output_dir {output}: is a file, not a folder" in error
    assert output.read_text() == "a file"


@pytest.mark.skipif(shutil.which("chattr") is None, reason="needs chattr")
def test_unwritable_output_dir_is_refused_before_training(
    checkpoint, sample_data_dir, tmp_path, capsys
):
    """An immutable folder refuses writes even to root (permission bits would not)."""
    output = tmp_path / "run"
    output.mkdir()
    if subprocess.run(["chattr", "+i", str(output)], capture_output=True).returncode != 0:
        pytest.skip("this filesystem does not support immutable folders")
    try:
        error = _refused(_arguments(checkpoint, output, sample_data_dir), capsys)
    finally:
        subprocess.run(["chattr", "-i", str(output)], check=True)
    assert f"--output_dir {output}: cannot write in {output}" in error
    assert list(output.iterdir()) == []


def test_folder_with_an_earlier_runs_results_is_refused(
    checkpoint, sample_data_dir, tmp_path, capsys
):
    output = tmp_path / "run"
    output.mkdir()
    (output / "all_results.json").write_text('{"test_accuracy": 0.5}')
    error = _refused(_arguments(checkpoint, output, sample_data_dir), capsys)
    assert "holds the results of an earlier run (all_results.json)" in error
    assert "--resume_from_checkpoint true" in error
    assert sorted(p.name for p in output.iterdir()) == ["all_results.json"]


def test_random_bin_is_refused_without_torchs_advice(sample_data_dir, tmp_path, capsys):
    weights = tmp_path / "random.bin"
    weights.write_bytes(np.random.default_rng(0).bytes(5000))
    output = tmp_path / "run"
    error = _refused(
        [
            "--model_path", str(weights), "--config_path", str(TINY_CONFIG),
            "--data_dir", str(sample_data_dir), "--output_dir", str(output),
            "--cache_dir", str(tmp_path / "cache"), "--vocal_channel", "song",
        ],
        capsys,
    )  # fmt: skip
    assert f"refused to load {weights}: not a plain-tensor checkpoint (" in error
    assert not any(advice in error for advice in TORCH_ADVICE)
    assert not output.exists()
    assert not (tmp_path / "cache").exists(), "refused before any data is built"


@pytest.mark.parametrize("name", ["optimizer.pt", "scheduler.pt", "rng_state.pth"])
def test_code_in_a_resumed_checkpoint_is_refused_and_never_runs(
    checkpoint, sample_data_dir, tmp_path, capsys, name
):
    output = tmp_path / "run"
    step = output / "checkpoint-4"
    step.mkdir(parents=True)
    marker = tmp_path / "code_ran"
    torch.save({"state": RunsCode(marker)}, step / name)
    error = _refused(
        _arguments(checkpoint, output, sample_data_dir, "--resume_from_checkpoint", "true"), capsys
    )
    assert f"refused to load {step / name}: not a plain-tensor checkpoint (" in error
    assert "GLOBAL" in error and not any(advice in error for advice in TORCH_ADVICE)
    assert not marker.exists()


# --- the run lock ------------------------------------------------------------------------------


def test_a_live_lock_holder_is_named_and_a_dead_ones_lock_taken_over(tmp_path, caplog):
    holder = subprocess.Popen(
        [
            sys.executable, "-c",
            "import sys, time; from training.run_folder.run_lock import RunLock; "
            f"RunLock({str(tmp_path)!r}).acquire(); print('held', flush=True); time.sleep(60)",
        ],
        cwd=REPO, env=run_env(), stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(ValueError, match=rf"another training \(pid {holder.pid} on "):
            RunLock(tmp_path).acquire()
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
        holder.stdout.close()
    assert (tmp_path / LOCK_FILE_NAME).is_file(), "a killed holder leaves its lock file"
    lock = RunLock(tmp_path).acquire()
    assert f"no longer running (pid {holder.pid} on" in caplog.text
    assert json.loads((tmp_path / LOCK_FILE_NAME).read_text())["pid"] == os.getpid()
    lock.release()
    assert not (tmp_path / LOCK_FILE_NAME).exists()


# --- predict -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    return save_tiny_classifier(tmp_path_factory.mktemp("model"), return_attention_mask=True)


def test_predict_refuses_a_model_folder_holding_code_in_one_line(tmp_path, capsys):
    marker = tmp_path / "code_ran"
    model = save_classifier_holding_code(tmp_path / "model", marker)
    clip = tmp_path / "clip.wav"
    soundfile.write(clip, np.zeros(16_000, dtype=np.float32), 16_000)
    assert predict_main(["--model_dir", str(model), str(clip), "--device", "cpu"]) == 2
    error = capsys.readouterr().err
    assert f"error: refused to load {model / 'pytorch_model.bin'}: not a plain-tensor" in error
    assert "Traceback" not in error and not any(advice in error for advice in TORCH_ADVICE)
    assert not marker.exists()


def test_a_speech_recognition_checkpoint_is_not_taken_for_a_classifier(tmp_path, capsys):
    """The user's fine-tuned CTC folder (weights, config, preprocessor_config) given to predict,
    export or evaluate: from_pretrained would add a random head (predict printed LABEL_1 0.502)."""
    from transformers import Wav2Vec2FeatureExtractor

    from training.demo.stand_in_checkpoint import write_ctc_checkpoint
    from training.evaluation.cross_corpus import main as evaluate_main
    from training.inference.export import main as export_main

    ctc = tmp_path / "timit_ctc"
    write_ctc_checkpoint(TINY_CONFIG, ctc, "safetensors", seed=0)
    Wav2Vec2FeatureExtractor(return_attention_mask=True).save_pretrained(ctc)
    clip = tmp_path / "clip.wav"
    soundfile.write(clip, np.zeros(16_000, dtype=np.float32), 16_000)
    refusal = f"error: {ctc}: not a trained emotion classifier: its weights lack 4 tensors"

    result = tmp_path / "predictions.json"
    status = predict_main(["--model_dir", str(ctc), str(clip), "--json", str(result)])
    assert status == 2 and refusal in capsys.readouterr().err and not result.exists()
    for command, arguments, written in [
        (export_main, [str(ctc), str(tmp_path / "exported")], tmp_path / "exported"),
        (evaluate_main, ["--model_dir", str(ctc), "--dataset_dir",
                         str(one_clip_dataset(tmp_path / "data")),
                         "--output_dir", str(tmp_path / "evaluated")], tmp_path / "evaluated"),
    ]:  # fmt: skip
        with pytest.raises(SystemExit) as exited:
            command(arguments)
        error = capsys.readouterr().err
        assert exited.value.code == 1 and refusal in error and "Traceback" not in error
        assert not written.exists()


def test_a_model_with_nan_weights_is_refused_once_not_file_by_file(tmp_path, capsys):
    """What a diverged run saved before training stopped such runs: predict failed every file
    with `non-finite scores (clip too short?)`."""
    model = save_tiny_classifier(tmp_path / "model")
    from safetensors.torch import load_file, save_file

    weights = load_file(model / "model.safetensors")
    weights["classifier.weight"][0, 0] = float("nan")
    save_file(weights, model / "model.safetensors", metadata={"format": "pt"})
    clip = tmp_path / "clip.wav"
    soundfile.write(clip, np.zeros(16_000, dtype=np.float32), 16_000)
    assert predict_main(["--model_dir", str(model), str(clip), "--vad", "none"]) == 2
    error = capsys.readouterr().err
    assert f"error: {model}: the weight classifier.weight holds NaN or infinite values" in error
    assert "FAILED" not in error


def test_predict_reads_mp3_and_counts_skipped_files(tiny_model, tmp_path, capsys, caplog):
    folder = tmp_path / "clips"
    folder.mkdir()
    rate = 16_000
    tone = 0.3 * np.sin(2 * np.pi * 220 * np.arange(rate) / rate).astype(np.float32)
    soundfile.write(folder / "voice.mp3", tone, rate, format="MP3")
    (folder / "notes.txt").write_text("not audio")
    (folder / "cover.png").write_bytes(b"\x89PNG")
    assert predict_main(["--model_dir", str(tiny_model), str(folder), "--device", "cpu"]) == 0
    captured = capsys.readouterr()
    assert "voice.mp3" in captured.out
    assert "1 classified, 0 failed" in captured.err
    assert "skipped 2 files that are not audio" in caplog.text
    assert "cover.png" in caplog.text and "notes.txt" in caplog.text


def test_predict_refuses_an_unwritable_result_file_before_scoring(tiny_model, tmp_path, capsys):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file")
    clip = tmp_path / "clip.wav"
    soundfile.write(clip, np.zeros(16_000, dtype=np.float32), 16_000)
    target = blocker / "out.json"
    assert predict_main(["--model_dir", str(tiny_model), str(clip), "--json", str(target)]) == 2
    error = capsys.readouterr().err
    assert f"--json {blocker}: is a file, not a folder" in error
    assert "classified" not in error


def test_predict_writes_results_into_a_new_folder(tiny_model, tmp_path):
    clip = tmp_path / "clip.wav"
    soundfile.write(clip, np.zeros(16_000, dtype=np.float32), 16_000)
    target = tmp_path / "new" / "results.json"
    assert predict_main(["--model_dir", str(tiny_model), str(clip), "--json", str(target)]) == 0
    assert len(json.loads(target.read_text())["results"]) == 1


# --- slow: real concurrent trainings, short clips through a whole run ---------------------------


@pytest.fixture
def songs_dir(sample_data_dir, tmp_path) -> Path:
    copy = tmp_path / "data"
    shutil.copytree(
        sample_data_dir / "classification_data" / "songs", copy / "classification_data" / "songs"
    )
    return copy


def _command(checkpoint: Path, output: Path, data_dir: Path, *extra: str) -> list[str]:
    script = [sys.executable, str(REPO / "training" / "wav2vec2_classification.py")]
    return script + _arguments(
        checkpoint, output, data_dir, "--vocal_channel", "song", "--cache_dir",
        str(output.parent / "cache"), *extra,
    )  # fmt: skip


@pytest.mark.faults
def test_second_training_into_a_busy_folder_is_refused_and_the_first_finishes(
    checkpoint, songs_dir, tmp_path
):
    map_emotion_data(songs_dir)
    output = tmp_path / "run"
    # Enough epochs that the first run is still training while the second starts up (a few
    # seconds of imports), so the second meets a live lock, not a finished folder.
    command = _command(checkpoint, output, songs_dir, "--num_train_epochs", "8")
    first = subprocess.Popen(
        command,
        cwd=REPO,
        env=run_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not (output / LOCK_FILE_NAME).is_file():
            assert first.poll() is None, first.stderr.read()[-3000:]
            assert time.monotonic() < deadline, "the first run never took its lock"
            time.sleep(0.1)
        second = subprocess.run(
            command, cwd=REPO, env=run_env(), capture_output=True, text=True, timeout=300
        )
        first_error = first.communicate(timeout=400)[1]
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    assert second.returncode == 1
    assert f"--output_dir {output}: another training (pid {first.pid} on " in second.stderr
    assert "Traceback" not in second.stderr
    assert first.returncode == 0, first_error[-3000:]
    results = json.loads((output / "all_results.json").read_text())
    assert (
        results["test_samples"]
        == json.loads((output / "test_results.json").read_text())["test_samples"]
    )
    assert not (output / LOCK_FILE_NAME).exists(), "a finished run releases its lock"


@pytest.mark.faults
def test_a_run_whose_weights_become_nan_stops_in_one_line(checkpoint, songs_dir, tmp_path, capsys):
    """A learning rate of 1e30: the first step makes the weights huge, the next one NaN. Without
    the check the run finished exit 0: logged losses 0.0, every test clip `neutral` at
    probability NaN (accuracy 0.09), and that model saved as its result."""
    map_emotion_data(songs_dir)
    output = tmp_path / "run"
    error = _refused(
        _arguments(checkpoint, output, songs_dir, "--learning_rate", "1e30", "--max_steps", "6",
                   "--logging_steps", "1", "--warmup_steps", "0"),
        capsys,
    )  # fmt: skip
    assert "error: training diverged by step 2 (epoch" in error
    assert "is NaN or infinite, so nothing it predicts means anything" in error
    assert "Lower --learning_rate (this run: 1e+30)" in error
    assert not (output / "all_results.json").exists() and not (output / "README.md").exists()
    assert not (output / LOCK_FILE_NAME).exists()


def test_clips_too_short_for_the_encoder_are_dropped_counted_and_named(
    checkpoint, songs_dir, tmp_path
):
    victim = sorted(songs_dir.rglob("*.wav"))[0]
    soundfile.write(victim, np.full(480, 0.1, dtype=np.float32), 48_000)  # 0.01 s
    map_emotion_data(songs_dir)
    output = tmp_path / "run"
    result = subprocess.run(
        _command(checkpoint, output, songs_dir, "--num_train_epochs", "1"),
        cwd=REPO, env=run_env(), capture_output=True, text=True, timeout=400,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"dropped 1 clips too short for the model (no encoder frame): {victim.name}" in (
        result.stderr
    )
    split = json.loads((output / "split.json").read_text())
    assert split["dropped_too_short"] == [victim.name]
    assert all(victim.name not in s["files"] for s in split["splits"].values())
    counted = sum(s["count"] for s in split["splits"].values())
    assert counted == 176 - 1
    card = (output / "README.md").read_text()
    assert "## Corpus used" in card and "per actor 01:44, 02:44, 03:44, 04:44" in card
    assert "1 clips too short for the model's feature encoder" in card
    # predict refuses the same clip by the same rule
    verdict = subprocess.run(
        [sys.executable, "-m", "training.inference.predict", "--model_dir", str(output),
         str(victim)],
        cwd=REPO, env=run_env(), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert verdict.returncode == 1
    assert f"FAILED {victim}: too short for the model" in verdict.stderr


def test_training_with_debug_shows_the_traceback(sample_data_dir, tmp_path, capsys):
    missing = tmp_path / "pytorch_model.bin"
    arguments = ["--model_path", str(missing), "--data_dir", str(sample_data_dir)]
    with pytest.raises(SystemExit):
        train_main([*arguments, "--output_dir", str(tmp_path / "run"), "--debug"])
    error = capsys.readouterr().err
    assert "Traceback" in error and f"error: --model_path {missing}: no such" in error
