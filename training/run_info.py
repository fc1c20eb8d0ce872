"""What a run ran with: processes, devices, precision, versions and the exact command."""

from __future__ import annotations

import datetime
import platform
import socket

import accelerate
import datasets
import torch
import transformers
from transformers import TrainingArguments

from training.model_builder import TransferReport


def _precision(args: TrainingArguments) -> str:
    if args.bf16:
        return "bf16"
    if args.fp16:
        return "fp16"
    return "fp32"


def collect_run_info(args: TrainingArguments, transfer: TransferReport, argv: list[str]) -> dict:
    return {
        "command": argv,
        "finished_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "host": socket.gethostname(),
        "world_size": args.world_size,
        "num_processes": args.world_size,
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
        "transfer": {
            "copied": len(transfer.copied),
            "dropped": transfer.dropped,
            "new": transfer.new,
        },
    }
