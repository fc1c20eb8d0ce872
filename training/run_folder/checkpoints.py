"""Which checkpoint a resumed run continues from: the newest COMPLETE one.

transformers' `get_last_checkpoint` takes the highest-numbered `checkpoint-N` folder, even one
a run was killed while writing (no `trainer_state.json`, which the Trainer writes last), and the
resume then fails with `No such file or directory`. A checkpoint counts as complete here when
its model weights, optimizer, scheduler and RNG files are whole (safetensors' header matches
the file's size; torch's zip files have their central directory) and its trainer state reads
as JSON with the step its name says. Incomplete ones are named and left where they are: the
resumed run writes the same step's folder again when it gets there.
"""

from __future__ import annotations

import json
import logging
import re
import struct
import zipfile
from pathlib import Path

logger = logging.getLogger(__name__)

CHECKPOINT_NAME = re.compile(r"^checkpoint-(\d+)$")
TRAINER_STATE = "trainer_state.json"
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
# What a Trainer checkpoint holds besides the weights, unless it saved the model only.
TRAINING_STATE_FILES = ("optimizer.pt", "scheduler.pt")


def checkpoints(output_dir: str | Path) -> list[Path]:
    """The `checkpoint-N` folders of `output_dir`, newest (highest N) first."""
    folder = Path(output_dir)
    if not folder.is_dir():
        return []
    found = [p for p in folder.iterdir() if p.is_dir() and CHECKPOINT_NAME.match(p.name)]
    return sorted(found, key=lambda p: int(CHECKPOINT_NAME.match(p.name)[1]), reverse=True)


def checkpoint_problem(checkpoint: Path, model_only: bool = False) -> str | None:
    """Why `checkpoint` cannot be resumed from (a missing or cut file), or None."""
    weights = [checkpoint / name for name in WEIGHT_FILES if (checkpoint / name).is_file()]
    if not weights:
        return f"no {' or '.join(WEIGHT_FILES)}"
    required = [] if model_only else list(TRAINING_STATE_FILES)
    for name in required:
        if not (checkpoint / name).is_file():
            return f"no {name}"
    for path in [*weights, *checkpoint.glob("*.pt"), *checkpoint.glob("*.pth")]:
        problem = _cut_file(path)
        if problem:
            return f"{path.name} {problem}"
    try:
        state = json.loads((checkpoint / TRAINER_STATE).read_text())
    except FileNotFoundError:
        return f"no {TRAINER_STATE}"
    except (OSError, ValueError) as error:
        return f"{TRAINER_STATE} does not read ({error})"
    match = CHECKPOINT_NAME.match(checkpoint.name)
    if match and state.get("global_step") != int(match[1]):
        return f"{TRAINER_STATE} is of step {state.get('global_step')}, not {match[1]}"
    return None


def _cut_file(path: Path) -> str | None:
    """Why a weights or state file is not whole, from its own framing; None when it is."""
    size = path.stat().st_size
    if path.suffix == ".safetensors":
        with open(path, "rb") as handle:
            prefix = handle.read(8)
            if len(prefix) < 8:
                return f"is cut ({size} bytes)"
            (header_size,) = struct.unpack("<Q", prefix)
            if 8 + header_size > size:
                return f"is cut ({size} bytes, its header alone takes {8 + header_size})"
            try:
                header = json.loads(handle.read(header_size))
            except ValueError:
                return "has a damaged header"
        ends = [v["data_offsets"][1] for k, v in header.items() if k != "__metadata__"]
        expected = 8 + header_size + max(ends, default=0)
        return None if size == expected else f"is cut ({size} bytes of {expected})"
    if not zipfile.is_zipfile(path):  # torch.save's format since torch 1.6
        return f"is cut or not a torch file ({size} bytes)"
    return None


def newest_complete_checkpoint(
    output_dir: str | Path, model_only: bool = False, announce: bool = True
) -> Path | None:
    """The newest complete checkpoint of `output_dir`. With `announce`, a warning names each
    newer incomplete one and says which is used."""
    skipped = []
    for checkpoint in checkpoints(output_dir):
        problem = checkpoint_problem(checkpoint, model_only)
        if problem is None:
            if not announce:
                pass
            elif skipped:
                logger.warning(
                    "--resume_from_checkpoint: %s; resuming from %s, the newest complete one",
                    "; ".join(skipped),
                    checkpoint,
                )
            else:
                logger.info("--resume_from_checkpoint: resuming from %s", checkpoint)
            return checkpoint
        skipped.append(f"{checkpoint} is incomplete ({problem}: the run was stopped while "
                       "saving it) and is not used")  # fmt: skip
    if skipped and announce:
        logger.warning("--resume_from_checkpoint: %s", "; ".join(skipped))
    return None


def check_resumable(checkpoint: str | Path, model_only: bool = False) -> None:
    """ValueError naming a checkpoint given by path that is incomplete."""
    checkpoint = Path(checkpoint)
    if not checkpoint.is_dir():
        raise ValueError(f"--resume_from_checkpoint {checkpoint}: no such folder")
    problem = checkpoint_problem(checkpoint, model_only)
    if problem is not None:
        raise ValueError(
            f"--resume_from_checkpoint {checkpoint}: incomplete ({problem}); the run was stopped "
            "while saving it: resume from an earlier checkpoint, or pass true for the newest "
            "complete one"
        )
