"""Command-line and YAML arguments of the training script, parsed by `HfArgumentParser`.

Precedence: our defaults < `--train_config FILE.yaml|json` (also spelt `--options`, as every
other command's options file) < flags on the command line.
Every `TrainingArguments` option works in both places under its own name. A config file may
name another one with `base: FILE` (relative to its own folder): it starts from that file's
values and overrides them.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, field, fields
from typing import Literal

import torch
from transformers import TrainingArguments

from data_scripts.common.command_options import OPTIONS_FLAG, CommandParser, read_options_file
from data_scripts.common.split_protocols import PROTOCOLS
from training.augment.augmenter import check_augment_arguments
from training.data.protocol import resolve_protocol, uses_corpus_protocol
from training.model.pooling_choices import POOLING_CHOICES
from training.model.task_settings import resolve_task
from training.trainer.best_checkpoint import keep_last_without_evaluation
from training.trainer.early_stopping import early_stopping_problem

TRAIN_DESCRIPTION = (
    "Fine-tune a wav2vec2-family checkpoint into an emotion classifier; the output folder\n"
    'loads with pipeline("audio-classification", model=OUTPUT_DIR).'
)


@dataclass
class ModelArguments:
    model_path: str | None = field(
        default=None,
        metadata={
            "help": "Fine-tuned checkpoint: a pytorch_model.bin or model.safetensors file (with "
            "--config_path), a save_pretrained directory, or a hub id."
        },
    )
    config_path: str | None = field(
        default=None, metadata={"help": "The checkpoint's config.json (needed for a lone file)."}
    )
    pooling: Literal[POOLING_CHOICES] = field(
        default="mean",
        metadata={
            "help": "mean: masked mean of the last layer over real frames. weighted_layers: "
            "softmax-weighted sum of all hidden layers (helps ASR-fine-tuned encoders)."
        },
    )
    classifier_proj_size: int = field(
        default=256, metadata={"help": "Width of the projection before the linear classifier."}
    )
    freeze_feature_encoder: bool = field(
        default=True,
        metadata={"help": "Keep the CNN feature encoder fixed (standard; about +2 points)."},
    )
    freeze_encoder: bool = field(
        default=False, metadata={"help": "Train the head only (a linear probe of the encoder)."}
    )
    cache_frozen_features: bool = field(
        default=True,
        metadata={
            "help": "With --freeze_encoder: run the encoder once per clip (eval mode: no dropout, "
            "no time masking), cache each layer's mean and train the head on it (exact for "
            "transformers' linear head; no random crops). false runs the encoder every step."
        },
    )
    feature_cache_gb: float | None = field(
        default=None,
        metadata={
            "help": "With --freeze_feature_encoder: the CNN's outputs are computed once per clip "
            "and reused by every epoch and evaluation, in memory or in the cache folder, up to "
            "this many GB (default: a quarter of free memory or half of free disk). Over it, "
            "or 0: the CNN runs on every step."
        },
    )
    encoder_learning_rate: float | None = field(
        default=None,
        metadata={"help": "Learning rate of the encoder; the head uses --learning_rate."},
    )
    attn_implementation: str | None = field(
        default=None,
        metadata={"help": "eager or sdpa (faster on GPU where the model supports it)."},
    )
    calibration: Literal["temperature", "none"] = field(
        default="temperature",
        metadata={
            "help": "temperature: fit a temperature on the validation set (log loss) and fold it "
            "into the classifier's last layer, so every saved and exported form of the model "
            "answers with calibrated probabilities (labels unchanged). none: leave them as trained."
        },
    )
    task: Literal["classification", "regression", "multitask"] = field(
        default="classification",
        metadata={
            "help": "classification: the corpus's labels. regression: continuous --targets "
            "(docs/dimensions.md). multitask: both heads on one encoder (--loss_weights)."
        },
    )
    targets: str | None = field(
        default=None,
        metadata={
            "help": "--task regression|multitask: comma-separated target columns of the "
            "prepared corpus (ser-prepare --target_columns), e.g. arousal,valence,dominance."
        },
    )
    regression_loss: Literal["ccc", "mse"] = field(
        default="ccc",
        metadata={
            "help": "ccc: 1 - concordance correlation per target, averaged (MSP-Podcast's "
            "convention). mse: mean squared error of the standardised targets."
        },
    )
    loss_weights: str | None = field(
        default=None,
        metadata={
            "help": "--task multitask: W_CLASSES,W_TARGETS, the weights of the cross-entropy "
            "and the regression loss (default 1,1); they also weigh UAR and mean CCC in the "
            "`combined` metric that selects the best checkpoint."
        },
    )
    early_stopping_patience: int = field(
        default=0, metadata={"help": "Evaluations without a gain before the run stops (0: off)."}
    )
    early_stopping_threshold: float = field(
        default=0.0, metadata={"help": "Least gain that counts, with --early_stopping_patience."}
    )
    push_to_dir: str | None = field(
        default=None,
        metadata={
            "help": "When the run ends, export the best model into this folder, verified "
            "(python -m training.inference.export; the local --push_to_hub)."
        },
    )


@dataclass
class DataArguments:
    data_dir: str | None = field(
        default=None,
        metadata={
            "help": "Folder written by the download script; the Arrow cache is built or reused."
        },
    )
    dataset_dir: str | None = field(
        default=None,
        metadata={"help": "A dataset saved by ser-prepare (or `python -m data_scripts.ravdess`)."},
    )
    cache_dir: str | None = field(default=None, metadata={"help": "datasets cache folder."})
    vocal_channel: Literal["all", "speech", "song"] | None = field(
        default=None,
        metadata={
            "help": "Which recordings to use (default: all; with a corpus's own protocol, the "
            "rows it is defined on: speech for EmoBox's folds)."
        },
    )
    split: Literal["speaker", "kfold", "emobox", "loso", "random"] = field(
        default="speaker",
        metadata={
            "help": "speaker: disjoint speakers in train/validation/test. kfold: fold --fold of "
            "--num_folds by speaker. emobox: EmoBox's fold --fold (1-6, a protocol of RAVDESS's "
            "own, in its corpus.json). loso: leave speaker --fold out (e.g. TESS, SAVEE). "
            "random: file-level, NOT speaker-independent (comparison only)."
        },
    )
    split_seed: int = field(default=0, metadata={"help": "Seed of the split."})
    fold: int | None = field(
        default=None,
        metadata={
            "help": "Test fold: 0 to num_folds-1 for --split kfold (default 0), 1-6 for "
            "--split emobox."
        },
    )
    num_folds: int = field(default=6, metadata={"help": "Folds for --split kfold."})
    cv_folds: str | None = field(
        default=None,
        metadata={
            "help": "Cross-validate: a number of speaker-independent folds, loso for one fold "
            "per speaker (leave one speaker out), or emobox for EmoBox's six folds."
        },
    )
    max_train_seconds: float | None = field(
        default=6.0, metadata={"help": "Randomly crop longer training clips to this length."}
    )
    extra_dataset_dir: list[str] | None = field(
        default=None,
        metadata={
            "help": "Further prepared corpora trained on with --dataset_dir's (a repeated "
            "--dataset_dir lands here): labels combined by name, split within each corpus."
        },
    )
    eval_dataset_dir: list[str] | None = field(
        default=None,
        metadata={
            "help": "After the test, evaluate the best model on these prepared corpora too, "
            "labels by name (cross_corpus/NAME/); the flag may be repeated."
        },
    )
    augment: bool = field(
        default=False,
        metadata={
            "help": "Corrupt training clips on the fly (noise, speed, gain, room, telephone line; "
            "docs/robustness.md); never validation or test. Off by default."
        },
    )
    augment_noise: float = field(
        default=0.5, metadata={"help": "With --augment: probability of additive noise."}
    )
    augment_speed: float = field(
        default=0.5, metadata={"help": "With --augment: probability of a speed of 0.9/1.0/1.1."}
    )
    augment_gain: float = field(
        default=0.3, metadata={"help": "With --augment: probability of a gain of -6 to +6 dB."}
    )
    augment_reverb: float = field(
        default=0.3, metadata={"help": "With --augment: probability of reverberation."}
    )
    augment_telephone: float = field(
        default=0.1,
        metadata={"help": "With --augment: probability of telephone bandwidth (300-3400 Hz)."},
    )
    augment_min_snr_db: float = field(
        default=5.0, metadata={"help": "With --augment: lowest SNR of added noise (dB)."}
    )
    augment_max_snr_db: float = field(
        default=20.0, metadata={"help": "With --augment: highest SNR of added noise (dB)."}
    )
    noise_dir: str | None = field(
        default=None,
        metadata={
            "help": "With --augment: a folder of noise recordings (e.g. MUSAN); without it, "
            "generated white, pink or brown noise."
        },
    )
    rir_dir: str | None = field(
        default=None,
        metadata={
            "help": "With --augment: a folder of room impulse responses; without it, simulated "
            "rooms (RT60 0.2-0.8 s)."
        },
    )
    class_weighting: Literal["none", "balanced"] = field(
        default="none",
        metadata={
            "help": "balanced: cross-entropy weighted by inverse training counts per class "
            "(N / (K x n_c)); recorded in run_info.json and the card."
        },
    )

    allow_duplicates: bool = field(
        default=False,
        metadata={
            "help": "Train even when the same audio is in training and validation or test "
            "(refused by default, naming both files); the card says so."
        },
    )
    bootstrap_resamples: int = field(
        default=1000,
        metadata={"help": "Speaker-clustered bootstrap resamples behind every 95 %% interval."},
    )
    bootstrap_seed: int = field(default=0, metadata={"help": "Seed of the bootstrap resamples."})

    def __post_init__(self):
        if self.bootstrap_resamples < 1:
            raise ValueError(f"--bootstrap_resamples {self.bootstrap_resamples}: must be 1 or more")
        # None means "the protocol's default": a corpus's own protocol (EmoBox's folds: the
        # speech files only) says which rows it is defined on, once the corpus is loaded
        # (training.data.loading.load_prepared_dataset); the shared protocols use all rows.
        if self.vocal_channel is None and not uses_corpus_protocol(self):
            self.vocal_channel = "all"
        if self.fold is None and self.split in PROTOCOLS:
            self.fold = 0


# Defaults that suit this task better than TrainingArguments' own; YAML and flags override them.
TRAINING_DEFAULTS = {
    "eval_strategy": "epoch",
    "save_strategy": "epoch",
    "logging_strategy": "steps",
    "logging_steps": 10,
    "load_best_model_at_end": True,
    "metric_for_best_model": "uar",
    "greater_is_better": True,
    "save_total_limit": 2,
    "remove_unused_columns": False,
    "train_sampling_strategy": "group_by_length",
    "length_column_name": "length",
    "learning_rate": 5e-5,
    "num_train_epochs": 10,
    "per_device_train_batch_size": 8,
    "per_device_eval_batch_size": 8,
    "warmup_steps": 0.1,
    "report_to": "none",
}


def launched_world_size() -> int:
    """The number of processes a launcher (accelerate, torchrun) started, from WORLD_SIZE."""
    try:
        return int(os.environ.get("WORLD_SIZE", "1"))
    except ValueError:
        return 1


def accelerator_available() -> bool:
    """Whether torch sees a GPU or other accelerator (CUDA, XPU, MPS, ...)."""
    accelerator = getattr(torch, "accelerator", None)
    if accelerator is not None and hasattr(accelerator, "is_available"):
        return bool(accelerator.is_available())
    return torch.cuda.is_available()


# The training config's flag (and the name every other command gives its options file).
CONFIG_FLAGS = ("--train_config", OPTIONS_FLAG)


def build_parser() -> CommandParser:
    """HfArgumentParser over the three dataclasses (data_scripts.common.command_options); yes/no
    options keep TrainingArguments' `--flag true|false` form, and `--debug` is its own."""
    return CommandParser(
        (ModelArguments, DataArguments, TrainingArguments),
        prog="ser-train",
        description=TRAIN_DESCRIPTION,
        options_flags=CONFIG_FLAGS,
        switches=False,
        debug_switch=False,
    )


def merge_repeated_flags(argv: list[str]) -> list[str]:
    """`--dataset_dir A --dataset_dir B` as `--dataset_dir A --extra_dataset_dir B`: the later
    corpora train with the first. (Every list option, `--eval_dataset_dir` too, collects its
    repeats by itself: command_options.)"""
    pre = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    for flag in ("--dataset_dir", "--extra_dataset_dir"):
        pre.add_argument(flag, action="extend", nargs="+", default=None)
    known, rest = pre.parse_known_args(argv)
    datasets_given = (known.dataset_dir or []) + (known.extra_dataset_dir or [])
    if datasets_given:
        rest += ["--dataset_dir", datasets_given[0]]
        if len(datasets_given) > 1:
            rest += ["--extra_dataset_dir", *datasets_given[1:]]
    return rest


def parse_arguments(
    argv: list[str] | None = None,
) -> tuple[ModelArguments, DataArguments, TrainingArguments]:
    pre = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    pre.add_argument(*CONFIG_FLAGS, dest="train_config", default=None)
    known, rest = pre.parse_known_args(argv)
    rest = merge_repeated_flags(rest)
    parser = build_parser()
    valid = {
        f.name for cls in (ModelArguments, DataArguments, TrainingArguments) for f in fields(cls)
    }
    defaults, from_file = dict(TRAINING_DEFAULTS), {}
    if known.train_config:
        from_file = read_options_file(known.train_config, "the training config")
        unknown = sorted(set(from_file) - valid)
        if unknown:
            raise ValueError(f"{known.train_config}: unknown arguments {', '.join(unknown)}")
        actions = parser.field_actions()
        for key, value in from_file.items():
            defaults[key] = parser.file_value(actions[key], key, value, known.train_config)
    launched = launched_world_size()
    if launched > 1 and not accelerator_available() and "use_cpu" not in defaults:
        # Without this, transformers ignores the process group on a machine without GPUs and
        # every process trains its own model into the same folder.
        defaults["use_cpu"] = True
    if best_checkpoint_problem := keep_last_without_evaluation(defaults, from_file, rest):
        parser.error(best_checkpoint_problem)
    parser.set_defaults(**defaults)
    model_args, data_args, training_args, _ = parser.parse_args_into_dataclasses(args=rest)
    if launched > 1 and training_args.world_size != launched:
        raise ValueError(
            f"{launched} processes were launched (WORLD_SIZE) but the run would have world size "
            f"{training_args.world_size}: each process would train its own model into "
            f"{training_args.output_dir}. On a machine without GPUs use --use_cpu true (or leave "
            "it out); otherwise launch one process per GPU."
        )
    if not model_args.model_path:
        parser.error("--model_path is required (on the command line or in --train_config)")
    if bool(data_args.data_dir) == bool(data_args.dataset_dir):
        parser.error("give exactly one of --data_dir and --dataset_dir")
    if not training_args.output_dir:
        parser.error("--output_dir is required")
    error = (
        resolve_protocol(data_args)
        or resolve_task(model_args, data_args, training_args)
        or check_augment_arguments(model_args, data_args)
        or early_stopping_problem(model_args, training_args)
    )
    if error:
        parser.error(error)
    return model_args, data_args, training_args
