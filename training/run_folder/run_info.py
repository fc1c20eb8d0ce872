"""What a run ran with: processes, devices, precision, versions and the exact command."""

from __future__ import annotations

import datetime
import os
import platform
import socket
import sys

import accelerate
import datasets
import torch
import transformers
from transformers import TrainingArguments

from training.model.model_builder import TransferReport


def _precision(args: TrainingArguments) -> str:
    if args.bf16:
        return "bf16"
    if args.fp16:
        return "fp16"
    return "fp32"


def describe_processes(args: TrainingArguments) -> list[dict]:
    """What each training process says about itself, gathered from every rank (call it on all).

    The world size comes from the process group itself, so two processes that each think they
    are alone show up as such.
    """
    distributed = torch.distributed.is_available() and torch.distributed.is_initialized()
    own = {
        "rank": torch.distributed.get_rank() if distributed else 0,
        "world_size": torch.distributed.get_world_size() if distributed else 1,
        "process_index": args.process_index,
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "device": str(args.device),
    }
    if not distributed or own["world_size"] == 1:
        return [own]
    gathered = [None] * own["world_size"]
    torch.distributed.all_gather_object(gathered, own)
    return gathered


def collect_run_info(
    args: TrainingArguments,
    transfer: TransferReport,
    argv: list[str],
    processes: list[dict] | None = None,
    feature_extractor: dict | None = None,
) -> dict:
    """run_info.json; `argv` is the arguments the training command was given."""
    processes = processes or describe_processes(args)
    return {
        "command": list(argv),
        "program": os.path.basename(sys.argv[0]) if sys.argv else None,
        "finished_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "host": socket.gethostname(),
        "world_size": args.world_size,
        "num_processes": len(processes),
        "processes": processes,
        "device": str(args.device),
        "n_gpu": args.n_gpu,
        "distributed_backend": args.ddp_backend
        or (torch.distributed.get_backend() if torch.distributed.is_initialized() else None),
        "precision": _precision(args),
        "per_device_train_batch_size": args.per_device_train_batch_size,
        "total_train_batch_size": args.per_device_train_batch_size
        * args.gradient_accumulation_steps
        * args.world_size,
        "versions": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "datasets": datasets.__version__,
            "accelerate": accelerate.__version__,
        },
        "feature_extractor": feature_extractor,
        "transfer": {
            "copied": len(transfer.copied),
            "dropped": transfer.dropped,
            "new": transfer.new,
        },
    }
