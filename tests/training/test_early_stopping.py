"""Early stopping in real tiny runs of every task: with a learning rate so small that the weights
do not move, the watched metric (uar, ccc, combined) cannot improve, so patience 1 must stop a
5-epoch run after its second evaluation; the trainer's own state and the saved results say so.
Settings it cannot honour are refused in one line naming the flag."""

from __future__ import annotations

import subprocess

import pytest
from training_helpers import (
    prepare_in_process,
    read_json,
    run_env,
    train_command,
    train_in_process,
)

from bench.dimension_corpus import write_dimension_corpus
from training.arguments import parse_arguments

EPOCHS = 5
FAST = ("--max_train_seconds", "0.6", "--num_train_epochs", str(EPOCHS), "--save_total_limit", "2")


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    root = tmp_path_factory.mktemp("stopping")
    manifest = write_dimension_corpus(root / "audio", speakers=6, clips=4)
    prepare_in_process("--corpus", "manifest", "--manifest", str(manifest),
                       "--target_columns", "arousal,valence",
                       "--output_dir", str(root / "prepared"),
                       "--cache_dir", str(root / "cache"))  # fmt: skip
    return root


@pytest.mark.parametrize(
    ("task", "metric"),
    [("classification", "eval_uar"), ("regression", "eval_ccc"), ("multitask", "eval_combined")],
)
def test_a_metric_that_cannot_improve_stops_the_run_after_patience_evaluations(
    checkpoint, prepared, task, metric
):
    output = prepared / task
    targets = () if task == "classification" else ("--task", task, "--targets", "arousal,valence")
    train_in_process(train_command(checkpoint, output, "--dataset_dir", str(prepared / "prepared"),
                                   *targets, *FAST, "--learning_rate", "0",
                                   "--early_stopping_patience", "1"))  # fmt: skip
    state = read_json(output / "trainer_state.json")
    evaluations = [entry for entry in state["log_history"] if metric in entry]
    assert [entry["epoch"] for entry in evaluations] == [1.0, 2.0]
    assert evaluations[0][metric] == evaluations[1][metric]  # the weights did not move
    assert state["epoch"] == 2.0 and state["global_step"] < state["max_steps"]
    stopping = read_json(output / "test_results.json")["early_stopping"]
    assert stopping["stopped_early"] is True and stopping["metric"] == metric
    assert (stopping["epochs_run"], stopping["epochs"], stopping["patience"]) == (2, EPOCHS, 1)
    assert stopping["evaluations"] == 2
    assert f"stopped after epoch 2 of {EPOCHS}" in (output / "README.md").read_text()


def test_a_run_without_early_stopping_records_that_it_ran_every_epoch(checkpoint, prepared):
    output = prepared / "all_epochs"
    train_in_process(train_command(checkpoint, output, "--dataset_dir", str(prepared / "prepared"),
                                   "--max_train_seconds", "0.6", "--num_train_epochs", "2",
                                   "--learning_rate", "0"))  # fmt: skip
    stopping = read_json(output / "test_results.json")["early_stopping"]
    assert stopping["stopped_early"] is False and stopping["patience"] == 0
    assert stopping["epochs_run"] == 2 and stopping["evaluations"] == 2
    assert "Early stopping: off; all 2 epochs ran." in (output / "README.md").read_text()


def test_early_stopping_without_evaluations_is_refused_in_one_line(checkpoint, prepared):
    output = prepared / "refused"
    command = train_command(checkpoint, output, "--dataset_dir", str(prepared / "prepared"),
                            "--eval_strategy", "no", "--save_strategy", "no",
                            "--load_best_model_at_end", "false",
                            "--early_stopping_patience", "2")  # fmt: skip
    result = subprocess.run(command, env=run_env(), capture_output=True, text=True, timeout=300)
    assert result.returncode != 0 and not output.exists()
    errors = [line for line in result.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1, result.stderr
    assert "--early_stopping_patience 2" in errors[0] and "--eval_strategy epoch" in errors[0]
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("flags", "named"),
    [
        (("--early_stopping_patience", "1", "--load_best_model_at_end", "false"),
         "--load_best_model_at_end is false"),
        (("--early_stopping_threshold", "0.01"), "needs --early_stopping_patience"),
        (("--early_stopping_patience", "-1"), "--early_stopping_patience -1"),
    ],
)  # fmt: skip
def test_settings_early_stopping_cannot_honour_are_refused(flags, named, capsys):
    with pytest.raises(SystemExit):
        parse_arguments([*flags, "--model_path", "m", "--dataset_dir", "d", "--output_dir", "o"])
    assert named in capsys.readouterr().err


def test_early_stopping_flags_are_parsed(tmp_path):
    model_args, _, _ = parse_arguments(
        ["--early_stopping_patience", "3", "--early_stopping_threshold", "0.01",
         "--model_path", "m", "--dataset_dir", "d", "--output_dir", str(tmp_path)]
    )  # fmt: skip
    assert (model_args.early_stopping_patience, model_args.early_stopping_threshold) == (3, 0.01)
