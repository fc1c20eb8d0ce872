"""Training runs of their own: killed and resumed, cross-validation, two processes as one run."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from training_helpers import (
    REPO,
    TRAIN_CONFIG,
    free_port,
    predictions_table,
    read_json,
    run_command,
    run_env,
    train_command,
)


# Killed and multi-process runs are fault tests (`make test-faults`): they cost the most time.
@pytest.mark.faults
def test_interrupted_run_resumes_to_a_finished_run(checkpoint, sample_data_dir, tmp_path):
    output_dir = tmp_path / "model"
    common = (
        "--data_dir", str(sample_data_dir), "--cache_dir", str(tmp_path / "cache"),
        "--vocal_channel", "speech", "--num_train_epochs", "3", "--save_total_limit", "3",
    )  # fmt: skip
    process = subprocess.Popen(
        train_command(checkpoint, output_dir, *common),
        cwd=REPO, env=run_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 240
    try:
        while not list(output_dir.glob("checkpoint-*/trainer_state.json")):
            assert process.poll() is None, "training ended before its first checkpoint"
            assert time.monotonic() < deadline, "no checkpoint within 240 s"
            time.sleep(0.2)
        time.sleep(0.5)  # let the checkpoint finish writing
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert not (output_dir / "all_results.json").exists(), "the run finished before it was killed"
    first = sorted(output_dir.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[1]))

    run_command(train_command(checkpoint, output_dir, *common, "--resume_from_checkpoint", "true"))
    state = read_json(output_dir / "trainer_state.json")
    assert state["epoch"] == pytest.approx(3.0)
    assert state["global_step"] > int(first[0].name.split("-")[1])
    assert (output_dir / "all_results.json").is_file()


def test_cross_validation_summarises_every_fold(checkpoint, sample_data_dir, tmp_path):
    output_dir = tmp_path / "cv"
    run_command(
        [
            sys.executable, "-m", "training.wav2vec2_classification",
            "--train_config", str(TRAIN_CONFIG),
            "--model_path", str(checkpoint / "pytorch_model.bin"),
            "--data_dir", str(sample_data_dir), "--cache_dir", str(tmp_path / "cache"),
            "--vocal_channel", "song", "--output_dir", str(output_dir),
            "--cv_folds", "3", "--num_train_epochs", "1", "--save_strategy", "no",
            "--load_best_model_at_end", "false", "--calibration", "none",
        ]
    )  # fmt: skip
    results = read_json(output_dir / "cv_results.json")
    assert [fold["fold"] for fold in results["folds"]] == [0, 1, 2]
    test_actors = [
        tuple(read_json(output_dir / f"fold_{k}" / "split.json")["splits"]["test"]["speakers"])
        for k in range(3)
    ]
    assert sorted(a for actors in test_actors for a in actors) == ["01", "02", "03", "04"]
    assert [tuple(fold["test_speakers"]) for fold in results["folds"]] == test_actors
    card = (output_dir / "README.md").read_text()
    for k, actors in enumerate(test_actors):
        assert f"| {k} | {', '.join(map(str, actors))} |" in card
        # Each fold keeps its per-file table, one row per test file of its actors.
        _, rows = predictions_table(output_dir / f"fold_{k}")
        assert len(rows) == results["folds"][k]["test_samples"]
        assert {f"{int(row['actor']):02d}" for row in rows} == set(actors)
    accuracies = [fold["test_accuracy"] for fold in results["folds"]]
    assert results["summary"]["accuracy"]["mean"] == pytest.approx(np.mean(accuracies))
    assert results["summary"]["accuracy"]["std"] == pytest.approx(np.std(accuracies))
    assert (output_dir / "cv_summary.md").read_text().count("\n| ") >= 4
    # One interval over every fold's test files, resampling the four actors.
    rows = [row for k in range(3) for row in predictions_table(output_dir / f"fold_{k}")[1]]
    pooled = results["pooled_intervals"]
    assert (pooled["files"], pooled["speakers"], pooled["folds"]) == (len(rows), 4, 3)
    right = np.mean([row["true_emotion"] == row["predicted_emotion"] for row in rows])
    assert pooled["metrics"]["accuracy"]["value"] == pytest.approx(right)
    assert f"Pooled over the 3 folds' test files ({len(rows)} files, 4 speakers)" in card
    # --calibration none: each fold says so, and its probabilities are the trained model's.
    assert read_json(output_dir / "fold_0" / "calibration.json")["temperature"] is None
    assert "No temperature was fitted" in (output_dir / "fold_0" / "README.md").read_text()


@pytest.mark.faults
def test_two_processes_really_train_together(checkpoint, sample_data_dir, tmp_path):
    """`--multi_gpu` with no GPU and no `--use_cpu`: two CPU processes must form ONE run."""
    output_dir = tmp_path / "ddp"
    # The tiny preset says use_cpu: true; users' presets do not, so leave it out here.
    config = tmp_path / "no_use_cpu.yaml"
    lines = TRAIN_CONFIG.read_text().splitlines()
    config.write_text("\n".join(line for line in lines if not line.startswith("use_cpu")))
    launcher = [
        sys.executable, "-m", "accelerate.commands.launch",
        "--config_file", str(REPO / "configs" / "accelerate" / "cpu_two_processes.yaml"),
        "--main_process_port", str(free_port()), "-m", "training.wav2vec2_classification",
    ]  # fmt: skip
    command = train_command(
        checkpoint, output_dir,
        "--data_dir", str(sample_data_dir), "--cache_dir", str(tmp_path / "cache"),
        "--vocal_channel", "speech", "--num_train_epochs", "2",
        launcher=launcher,
    )  # fmt: skip
    command[command.index(str(TRAIN_CONFIG))] = str(config)
    assert "--use_cpu" not in command and "use_cpu" not in config.read_text()
    run_command(command, timeout=400)
    info = read_json(output_dir / "run_info.json")
    # What each process said about itself, from its own process group.
    processes = info["processes"]
    assert [p["rank"] for p in processes] == [0, 1]
    assert [p["world_size"] for p in processes] == [2, 2]
    assert len({p["pid"] for p in processes}) == 2
    assert info["world_size"] == info["num_processes"] == 2
    assert info["total_train_batch_size"] == 2 * info["per_device_train_batch_size"]
    # One run: the trainer state counts the steps of a batch of 2 x per-device batches.
    state = read_json(output_dir / "trainer_state.json")
    train_files = len(read_json(output_dir / "split.json")["splits"]["train"]["files"])
    batches = -(-train_files // info["total_train_batch_size"])
    assert state["global_step"] == 2 * batches
    test = read_json(output_dir / "test_results.json")
    # Predictions gathered from both processes: every test file counted exactly once.
    assert np.array(test["test_confusion_matrix"]).sum() == test["test_samples"]
