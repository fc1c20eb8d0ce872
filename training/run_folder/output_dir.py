"""Checks before a training run does any work: its inputs exist, its output folder is its own.

In order: the checkpoint, config and data exist; the output folder is not a file and can be
written; no other live training holds it (training.run_folder.run_lock); it holds no earlier
run's results unless this run resumes; a checkpoint to resume from holds only plain tensors.
Only then is anything created or trained.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from transformers import TrainingArguments
from transformers.trainer_pt_utils import safe_globals
from transformers.trainer_utils import get_last_checkpoint

from data_scripts.common.writable import check_writable
from data_scripts.corpora.registry import DOWNLOAD_INDEX
from training.model.checkpoint_refusal import refusal_message
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
    if model_path.is_file() and model_path.suffix == ".bin":
        check_plain_tensors(model_path)  # before any data is built
    if model_args.config_path and not Path(model_args.config_path).is_file():
        raise ValueError(f"--config_path {model_args.config_path}: no such file")
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


def resume_target(training_args: TrainingArguments) -> str | None:
    """The checkpoint folder a resume would load, or None when not resuming."""
    resume = training_args.resume_from_checkpoint
    if resume in (None, "", "false", "False", False):
        return None
    if resume in ("true", "True", True):
        output_dir = Path(training_args.output_dir)
        return get_last_checkpoint(str(output_dir)) if output_dir.is_dir() else None
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


def claim_output_dir(training_args: TrainingArguments, is_main: bool) -> RunLock | None:
    """Create and lock the output folder after the checks; the main process holds the lock."""
    output_dir = Path(training_args.output_dir)
    if output_dir.exists() and not output_dir.is_dir():
        raise ValueError(f"--output_dir {output_dir}: is a file, not a folder")
    check_writable(output_dir, "--output_dir")
    resume = resume_target(training_args)
    if resume is not None:
        check_checkpoint_pickles(resume)
    if not is_main:
        return None
    output_dir.mkdir(parents=True, exist_ok=True)
    lock = RunLock(output_dir).acquire()
    try:
        found = earlier_results(output_dir)
        if found and resume is None:
            raise ValueError(
                f"--output_dir {output_dir}: holds the results of an earlier run "
                f"({', '.join(found[:4])}); choose a new folder, or pass "
                "--resume_from_checkpoint true to continue that run"
            )
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
