"""ser-evaluate's options, declared once (flags, or keys of an `--options` file); their own
module so the evaluation code stays small."""

from __future__ import annotations

from dataclasses import dataclass, field

from training.reports.intervals import DEFAULT_RESAMPLES, DEFAULT_SEED


@dataclass
class EvaluateOptions:
    """ser-evaluate's options (flags, or keys of an `--options` file)."""

    model_dir: str | None = field(
        default=None,
        metadata={"required": True, "help": "a saved model directory (classes, targets or both)"},
    )
    dataset_dir: list[str] = field(
        default_factory=list,
        metadata={"required": True, "nargs": None, "help": "a prepared dataset (repeatable)"},
    )
    output_dir: str | None = field(
        default=None, metadata={"help": "where cross_corpus/NAME/ goes (default: model_dir)"}
    )
    batch_size: int = field(default=8, metadata={"help": "clips per forward pass"})
    bootstrap_resamples: int = field(
        default=DEFAULT_RESAMPLES,
        metadata={"help": "speaker-clustered bootstrap resamples behind each 95 %% interval"},
    )
    bootstrap_seed: int = field(default=DEFAULT_SEED, metadata={"help": "seed of the bootstrap"})
    overwrite: bool = field(
        default=False,
        metadata={"help": "replace an earlier evaluation of the same dataset with the same model"},
    )
    conditions: str | None = field(
        default=None,
        metadata={
            "help": "robustness: comma-separated conditions, e.g. clean,noise@20,noise@10,"
            "noise@5,reverb,telephone,mp3@32k (docs/robustness.md); results in robustness/NAME/"
        },
    )
    noise_dir: str | None = field(
        default=None, metadata={"help": "with --conditions: noise recordings for noise@SNR"}
    )
    rir_dir: str | None = field(
        default=None, metadata={"help": "with --conditions: room impulse responses for reverb"}
    )
    corruption_seed: int = field(
        default=0, metadata={"help": "with --conditions: the corruptions' seed"}
    )
