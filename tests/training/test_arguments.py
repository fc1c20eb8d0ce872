"""training.arguments: defaults, --train_config files (with `base:`), flags, and the presets."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from training.arguments import parse_arguments

REPO = Path(__file__).resolve().parents[2]
PRESETS = REPO / "configs" / "training"


def _parse(*args: str):
    return parse_arguments(
        [*args, "--model_path", "ckpt", "--dataset_dir", "prepared", "--output_dir", "out"]
    )


def test_yaml_config_and_command_line_precedence(tmp_path):
    config = tmp_path / "train.yaml"
    config.write_text("learning_rate: 0.001\nnum_train_epochs: 3\npooling: weighted_layers\n")
    model_args, data_args, training_args = parse_arguments(
        [
            "--train_config", str(config), "--model_path", str(tmp_path / "ckpt"),
            "--dataset_dir", "prepared", "--output_dir", str(tmp_path / "out"),
            "--num_train_epochs", "5", "--lr_scheduler_type", "cosine",
        ]
    )  # fmt: skip
    assert training_args.learning_rate == 0.001  # from the file
    assert training_args.num_train_epochs == 5  # the flag wins over the file
    assert training_args.lr_scheduler_type == "cosine"  # any TrainingArguments option
    assert model_args.pooling == "weighted_layers"
    assert training_args.metric_for_best_model == "uar"  # our default
    assert data_args.split == "speaker"


def test_unknown_key_in_training_config_is_named(tmp_path):
    config = tmp_path / "train.yaml"
    config.write_text("learning_rate: 0.001\nlearnig_rate_typo: 3\n")
    with pytest.raises(ValueError, match="learnig_rate_typo"):
        parse_arguments(["--train_config", str(config), "--output_dir", str(tmp_path)])


def test_a_base_file_is_read_first_and_the_including_file_wins(tmp_path):
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "base.yaml").write_text(
        "learning_rate: 0.5\nnum_train_epochs: 7\nseed: 3\n"
    )
    config = tmp_path / "preset.yaml"
    config.write_text("base: shared/base.yaml\nlearning_rate: 0.25\n")
    _, _, training_args = _parse("--train_config", str(config), "--seed", "9")
    assert training_args.learning_rate == 0.25  # the preset over its base
    assert training_args.num_train_epochs == 7  # from the base
    assert training_args.seed == 9  # the flag over both


def test_base_files_that_include_each_other_are_refused(tmp_path):
    (tmp_path / "a.yaml").write_text("base: b.yaml\n")
    (tmp_path / "b.yaml").write_text("base: a.yaml\n")
    with pytest.raises(ValueError, match="include each other"):
        _parse("--train_config", str(tmp_path / "a.yaml"))


def test_a_missing_base_file_is_named(tmp_path):
    (tmp_path / "a.yaml").write_text("base: gone.yaml\n")
    with pytest.raises(ValueError, match=r"gone\.yaml: cannot read the training config"):
        _parse("--train_config", str(tmp_path / "a.yaml"))


@pytest.mark.parametrize("preset", ["full", "medium", "small"])
def test_gpu_presets_say_what_they_set(preset):
    path = PRESETS / f"{preset}.yaml"
    text = path.read_text()
    # The file names the model config it belongs to, and that config exists.
    named = re.findall(r"configs/models/(\w+)\.json", text.splitlines()[0])
    assert named == [preset] and (REPO / "configs" / "models" / f"{preset}.json").is_file()
    for key in ("pooling", "learning_rate", "encoder_learning_rate", "max_train_seconds"):
        assert re.search(rf"^{key}:", text, flags=re.M), f"{path} does not set {key}"
    model_args, data_args, training_args = _parse("--train_config", str(path))
    assert model_args.pooling == "weighted_layers"
    assert model_args.encoder_learning_rate == 2e-5
    assert model_args.attn_implementation == "sdpa"
    assert training_args.learning_rate == 1e-4
    assert data_args.max_train_seconds == 6.0
    assert training_args.num_train_epochs == 20  # from gpu_base.yaml
    assert training_args.optim == "adamw_torch_fused"
    assert training_args.dataloader_num_workers == 4
    assert training_args.dataloader_pin_memory is True


def test_no_evaluation_keeps_the_last_weights_instead_of_transformers_error(tmp_path):
    """Our default loads the best checkpoint at the end; `--eval_strategy no` alone (or in a
    training config) gives way to it instead of failing in transformers' three-line error."""
    _, _, training_args = _parse("--eval_strategy", "no")
    assert training_args.eval_strategy == "no" and training_args.load_best_model_at_end is False
    config = tmp_path / "train.yaml"
    config.write_text("eval_strategy: 'no'\n")
    _, _, from_file = _parse("--train_config", str(config))
    assert from_file.load_best_model_at_end is False
    _, _, evaluated = _parse()
    assert evaluated.load_best_model_at_end is True  # the default with evaluations


@pytest.mark.parametrize(
    "asked", [("--load_best_model_at_end", "true"), ("--load_best_model_at_end",), ("yaml",)]
)
def test_asking_for_the_best_checkpoint_without_evaluation_is_one_line(asked, tmp_path, capsys):
    args = ["--eval_strategy", "no"]
    if asked == ("yaml",):
        config = tmp_path / "train.yaml"
        config.write_text("load_best_model_at_end: true\n")
        args += ["--train_config", str(config)]
    else:
        args += list(asked)
    with pytest.raises(SystemExit) as stopped:
        _parse(*args)
    assert stopped.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert "--eval_strategy no" in error and "--load_best_model_at_end is true" in error
