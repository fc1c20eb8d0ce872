"""The training run's folders: a user's files and the data are never taken for the run's, and a
run killed while saving a checkpoint resumes from the newest complete one."""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from pathlib import Path

import datasets
import pytest
from test_faults_training import _refused
from training_helpers import REPO, read_json, run_env, train_command

from data_scripts.corpora.ravdess.mapping import map_emotion_data


def _arguments(checkpoint: Path, output_dir: Path, *data: str) -> list[str]:
    """One training step (where a refusal fails to come, the run ends soon)."""
    command = train_command(checkpoint, output_dir, *data, "--max_steps", "1")
    return command[2:]  # without the interpreter and the script


def _snapshot(folder: Path) -> dict[str, bytes | None]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() if p.is_file() else None
        for p in sorted(folder.rglob("*"))
    }


@pytest.mark.parametrize(
    ("files", "named"),
    [
        ({"README.md": "my notes\n"}, "README.md"),
        ({"notes.txt": "mine"}, "notes.txt"),
        # The names a run writes, but no run's results: the user's own files.
        ({"config.json": "{}", "split.json": "{}", "test_predictions.csv": "a,b\n"}, "config.json"),
    ],
)
def test_a_folder_holding_a_users_files_is_refused_before_training(
    checkpoint, sample_data_dir, tmp_path, capsys, files, named
):
    """Before, only earlier results were looked for: `u/README.md` became the model card."""
    output = tmp_path / "u"
    output.mkdir()
    for name, text in files.items():
        (output / name).write_text(text)
    before = _snapshot(output)
    error = _refused(_arguments(checkpoint, output, "--data_dir", str(sample_data_dir)), capsys)
    assert f"error: --output_dir {output}: holds {named}" in error
    assert "choose a new or empty folder" in error
    assert _snapshot(output) == before


def test_a_users_file_beside_an_earlier_run_is_refused_even_when_resuming(
    checkpoint, sample_data_dir, tmp_path, capsys
):
    output = tmp_path / "run"
    (output / "checkpoint-2").mkdir(parents=True)
    (output / "my_results.xlsx").write_bytes(b"a spreadsheet")
    before = _snapshot(output)
    error = _refused(
        _arguments(checkpoint, output, "--data_dir", str(sample_data_dir),
                   "--resume_from_checkpoint", "true"),
        capsys,
    )  # fmt: skip
    assert f"--output_dir {output}: holds my_results.xlsx, which a training run does not" in error
    assert _snapshot(output) == before


def test_the_datasets_own_folder_is_refused_as_output_dir(checkpoint, tmp_path, capsys):
    """Before, `--output_dir` equal to `--dataset_dir` was accepted: the run's files were
    written into the saved dataset."""
    dataset = tmp_path / "prepared"
    datasets.Dataset.from_dict({"label": [0, 1]}).save_to_disk(str(dataset))
    before = _snapshot(dataset)
    data = ("--dataset_dir", str(dataset))
    error = _refused(_arguments(checkpoint, dataset, *data), capsys)
    assert f"--output_dir {dataset}: is the --dataset_dir folder {dataset}" in error
    inside = dataset / "run"
    error = _refused(_arguments(checkpoint, inside, *data), capsys)
    assert f"--output_dir {inside}: is inside the --dataset_dir folder {dataset}" in error
    error = _refused(_arguments(checkpoint, tmp_path, *data), capsys)
    assert f"--output_dir {tmp_path}: holds the --dataset_dir folder {dataset}" in error
    assert _snapshot(dataset) == before


def _step(checkpoint: Path) -> int:
    return int(checkpoint.name.split("-")[1])


@pytest.mark.faults
def test_a_run_killed_while_saving_resumes_from_the_newest_complete_checkpoint(
    checkpoint, sample_data_dir, tmp_path
):
    """The Trainer writes trainer_state.json last; a run killed before it leaves a checkpoint
    folder without it. `--resume_from_checkpoint true` used to pick that one and fail with
    `No such file or directory: .../trainer_state.json`."""
    songs = tmp_path / "data"
    shutil.copytree(
        sample_data_dir / "classification_data" / "songs", songs / "classification_data" / "songs"
    )
    map_emotion_data(songs)
    output = tmp_path / "run"
    common = (
        "--data_dir", str(songs), "--vocal_channel", "song", "--cache_dir", str(tmp_path / "cache"),
        "--max_steps", "10", "--save_strategy", "steps", "--save_steps", "2",
        "--eval_strategy", "steps", "--eval_steps", "2", "--save_total_limit", "3",
    )  # fmt: skip
    process = subprocess.Popen(
        train_command(checkpoint, output, *common),
        cwd=REPO, env=run_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 300
    try:
        while len(list(output.glob("checkpoint-*/trainer_state.json"))) < 2:
            assert process.poll() is None, "training ended before its second checkpoint"
            assert time.monotonic() < deadline, "no two checkpoints within 300 s"
            time.sleep(0.05)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert not (output / "all_results.json").exists(), "the run finished before it was killed"
    saved = sorted(output.glob("checkpoint-*"), key=_step)
    newest, complete = saved[-1], saved[-2]
    # What a kill between the weights and the trainer state leaves.
    (newest / "trainer_state.json").unlink(missing_ok=True)
    assert (newest / "model.safetensors").is_file()

    resumed = subprocess.run(
        train_command(checkpoint, output, *common, "--resume_from_checkpoint", "true"),
        cwd=REPO, env=run_env(), capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert (
        f"{newest} is incomplete (no trainer_state.json: the run was stopped while saving it) "
        f"and is not used; resuming from {complete}, the newest complete one"
    ) in resumed.stderr
    state = read_json(output / "trainer_state.json")
    assert state["global_step"] == 10
    assert (output / "all_results.json").is_file()
