"""Checks before a training run does any work: its inputs exist, its output folder is its own.

In order: the checkpoint, config and data exist; the output folder is not a file, not one of
the data folders (nor inside a saved dataset, nor holding one) and can be written; no other
live training holds it (training.run_folder.run_lock); it holds nothing but what a training run
writes (a user's README.md or notes would be replaced or mixed with the run's), and no earlier
run's results unless this run resumes; a checkpoint to resume from is complete and holds only
plain tensors. Only then is anything created or trained.
"""

from __future__ import annotations

import pickle
import re
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from transformers import TrainingArguments
from transformers.trainer_pt_utils import safe_globals

from data_scripts.common.writable import check_writable
from data_scripts.corpora.registry import DOWNLOAD_INDEX
from training.model.checkpoint_refusal import refusal_message
from training.model.remote_code import refuse_remote_code
from training.run_folder.checkpoints import (
    check_resumable,
    checkpoints,
    newest_complete_checkpoint,
)
from training.run_folder.run_lock import RunLock

if TYPE_CHECKING:  # the training run's arguments; this room does not import the run
    from training.arguments import DataArguments, ModelArguments

# Files a finished or interrupted run leaves; another run must not mix its own with them.
RESULT_PATTERNS = (
    "all_results.json",
    "test_results.json",
    "trainer_state.json",
    "model.safetensors",
    "pytorch_model.bin",
    "cv_results.json",
    "checkpoint-*",
    "fold_*",
)
# Every top-level name a training run (one, or cross-validation's) writes into --output_dir:
# a folder holding anything else is not an earlier run of ours and is refused. A file added
# to what a run writes must be added here, or resuming such a run is refused.
RUN_OUTPUT_NAMES = frozenset(
    {
        "README.md", "config.json", "preprocessor_config.json", "model.safetensors",
        "pytorch_model.bin", "training_args.bin", "trainer_state.json", "all_results.json",
        "train_results.json", "eval_results.json", "test_results.json", "test_predictions.csv",
        "split.json", "run_info.json", "confusion_matrix.png", "training_curves.png",
        "cv_results.json", "cv_summary.md", "cross_corpus", "robustness", "runs", ".training.lock",
        "validation_predictions.csv", "calibration.json", "reliability_diagram.png",
    }
)  # fmt: skip
# Checkpoints, cross-validation folds, and the hidden temporary files of atomic writes.
RUN_OUTPUT_PATTERN = re.compile(r"^(checkpoint-\d+|fold_\d+|\..+\.\d+\.tmp)$")
# Pickled files of a Trainer checkpoint, loaded on resume.
CHECKPOINT_PICKLES = (
    "pytorch_model.bin",
    "optimizer.pt",
    "scheduler.pt",
    "rng_state*.pth",
    "scaler.pt",
)


def check_inputs(model_args: ModelArguments, data_args: DataArguments) -> None:
    """ValueError naming the flag and path of the first input that is missing."""
    model_path = Path(model_args.model_path)
    looks_local = model_args.model_path.startswith((".", "/")) or model_path.suffix in (
        ".bin",
        ".safetensors",
    )
    if looks_local and not model_path.exists():
        raise ValueError(f"--model_path {model_path}: no such file or folder")
    if model_path.exists():  # a folder (or the one holding the weights file) with its own code
        refuse_remote_code(model_path if model_path.is_dir() else model_path.parent, "--model_path")
    if model_path.is_file() and model_path.suffix == ".bin":
        check_plain_tensors(model_path)  # before any data is built
    if model_args.config_path and not Path(model_args.config_path).is_file():
        raise ValueError(f"--config_path {model_args.config_path}: no such file")
    if model_args.config_path:
        refuse_remote_code(model_args.config_path, "--config_path")
    if data_args.data_dir:
        csv_path = Path(data_args.data_dir) / DOWNLOAD_INDEX
        if not csv_path.is_file():
            raise ValueError(
                f"--data_dir {data_args.data_dir}: no {DOWNLOAD_INDEX}; run "
                "data_scripts/download_and_map_emotion_data.py first"
            )
    if data_args.dataset_dir and not Path(data_args.dataset_dir).is_dir():
        raise ValueError(f"--dataset_dir {data_args.dataset_dir}: no such folder")


def earlier_results(output_dir: Path) -> list[str]:
    return sorted({p.name for pattern in RESULT_PATTERNS for p in output_dir.glob(pattern)})


def foreign_entries(output_dir: Path) -> list[str]:
    """Names in `output_dir` that no training run writes there, sorted."""
    return sorted(
        entry.name
        for entry in output_dir.iterdir()
        if entry.name not in RUN_OUTPUT_NAMES and not RUN_OUTPUT_PATTERN.match(entry.name)
    )


def check_run_folder(output_dir: Path, resuming: bool) -> None:
    """ValueError naming a file, unless `output_dir` holds nothing or an earlier run of ours
    (whose results only a resume may continue)."""
    foreign = foreign_entries(output_dir)
    if foreign:
        raise ValueError(
            f"--output_dir {output_dir}: holds {foreign[0]}"
            + (f" (and {len(foreign) - 1} more)" if len(foreign) > 1 else "")
            + ", which a training run does not write; it is not an earlier run's folder and "
            "its files would be mixed with the run's: choose a new or empty folder"
        )
    found = earlier_results(output_dir)
    if found and not resuming:
        raise ValueError(
            f"--output_dir {output_dir}: holds the results of an earlier run "
            f"({', '.join(found[:4])}); choose a new folder, or pass "
            "--resume_from_checkpoint true to continue that run"
        )
    if not found:
        # README.md, config.json, split.json ... without any result: not left by a run (it
        # writes checkpoints and results before them), so a file of the user's it would replace.
        kept = sorted(
            entry.name
            for entry in output_dir.iterdir()
            if entry.is_file() and not entry.name.startswith(".")
        )
        if kept:
            raise ValueError(
                f"--output_dir {output_dir}: holds {kept[0]}, but no earlier run's results, so "
                "it is not a training run's file; the run would replace it: choose a new or "
                "empty folder"
            )


def check_apart_from_data(output_dir: Path, data_args: DataArguments | None) -> None:
    """ValueError when --output_dir is one of the data folders, inside a saved dataset, or
    holds one: the run's files would be mixed into the data (or the data into the run)."""
    if data_args is None:
        return
    output = output_dir.resolve()
    folders = [("--data_dir", data_args.data_dir), ("--dataset_dir", data_args.dataset_dir)]
    folders += [("--dataset_dir", d) for d in data_args.extra_dataset_dir or []]
    folders += [("--eval_dataset_dir", d) for d in data_args.eval_dataset_dir or []]
    for flag, folder in folders:
        if not folder:
            continue
        data = Path(folder).resolve()
        if output == data or (data in output.parents and flag != "--data_dir"):
            where = "is" if output == data else "is inside"
            raise ValueError(
                f"--output_dir {output_dir}: {where} the {flag} folder {folder}; the run would "
                "be mixed into the data: choose a folder outside it"
            )
        if output in data.parents:
            raise ValueError(
                f"--output_dir {output_dir}: holds the {flag} folder {folder}; choose a new "
                "folder for the run"
            )


def resume_target(training_args: TrainingArguments, announce: bool = True) -> str | None:
    """The checkpoint folder a resume would load (`true`: the newest complete one, said with
    `announce`), or None when not resuming. ValueError for a given checkpoint that is
    incomplete."""
    resume = training_args.resume_from_checkpoint
    model_only = bool(getattr(training_args, "save_only_model", False))
    if resume in (None, "", "false", "False", False):
        return None
    if resume in ("true", "True", True):
        last = newest_complete_checkpoint(training_args.output_dir, model_only, announce)
        return None if last is None else str(last)
    check_resumable(resume, model_only)
    return str(resume)


def check_plain_tensors(path: Path) -> None:
    """ValueError naming `path` unless it loads with weights_only=True and the numpy globals
    the Trainer allows for RNG states. Memory-mapped where the format allows, so checking costs
    no copy of the tensors."""
    try:
        with safe_globals():
            _load_without_copy(path)
    except (pickle.UnpicklingError, RuntimeError, EOFError) as error:
        raise ValueError(refusal_message(path, error)) from error


def _load_without_copy(path: Path) -> None:
    try:
        torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except RuntimeError as error:
        if "mmap" not in str(error):
            raise
        torch.load(path, map_location="cpu", weights_only=True)  # the legacy format


def check_checkpoint_pickles(checkpoint: str | Path) -> None:
    """ValueError naming the first pickled file of `checkpoint` that is not plain tensors."""
    for pattern in CHECKPOINT_PICKLES:
        for path in sorted(Path(checkpoint).glob(pattern)):
            check_plain_tensors(path)


def claim_output_dir(
    training_args: TrainingArguments, is_main: bool, data_args: DataArguments | None = None
) -> RunLock | None:
    """Create and lock the output folder after the checks; the main process holds the lock.
    `data_args`: the data folders the output folder must stay apart from."""
    output_dir = Path(training_args.output_dir)
    if output_dir.exists() and not output_dir.is_dir():
        raise ValueError(f"--output_dir {output_dir}: is a file, not a folder")
    check_apart_from_data(output_dir, data_args)
    check_writable(output_dir, "--output_dir")
    if training_args.resume_from_checkpoint in ("true", "True", True):
        # Every checkpoint a resume may pick from, the incomplete ones too: no code runs.
        for candidate in checkpoints(output_dir):
            check_checkpoint_pickles(candidate)
    resume = resume_target(training_args)
    if resume is not None:
        check_checkpoint_pickles(resume)
    if not is_main:
        return None
    output_dir.mkdir(parents=True, exist_ok=True)
    lock = RunLock(output_dir).acquire()
    try:
        check_run_folder(output_dir, resuming=resume is not None)
        # Writable after creation too (e.g. a folder that exists but refuses new files).
        check_writable(output_dir, "--output_dir")
        logging_dir = getattr(training_args, "logging_dir", None)
        if logging_dir:
            check_writable(logging_dir, "--logging_dir")
    except BaseException:
        lock.release()
        raise
    return lock


def remove_if_empty(folder: str | Path) -> None:
    try:
        Path(folder).rmdir()
    except OSError:
        pass  # not empty, or not there: keep it
