"""ser-predict's options, in a module without torch: the command prints its help and refuses a
bad flag or options file before it imports the model stack (training.inference.predict)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from data_scripts.common.command_options import CommandParser
from training.inference.choices import BACKENDS, DEFAULT_BATCH_SIZE, DTYPE_CHOICES, VAD_CHOICES


@dataclass
class PredictOptions:
    """ser-predict's options (flags, or keys of an `--options` file)."""

    paths: list[str] = field(
        default_factory=list,
        metadata={"positional": True, "nargs": "+",
                  "help": "audio files or folders (searched recursively)"},
    )  # fmt: skip
    model_dir: str | None = field(
        default=None,
        metadata={"required": True, "help": "model directory written by save_pretrained"},
    )
    batch_size: int = field(
        default=DEFAULT_BATCH_SIZE,
        metadata={"help": "windows (or short files) per forward pass; on CPU the CNN still runs "
                  "one clip at a time (faster there)"},
    )  # fmt: skip
    window_seconds: float | None = field(
        default=None,
        metadata={"help": "window length (default: the model's training clips' median)"},
    )
    hop_seconds: float | None = field(
        default=None,
        metadata={"help": "step between windows (default: the window; half of it gives a finer "
                  "timeline at half the speed)"},
    )  # fmt: skip
    vad: Literal[VAD_CHOICES] = field(
        default="silero",
        metadata={"help": "silero: windows without speech are `silence`; none: score all"},
    )
    smooth: int = field(
        default=1, metadata={"help": "median over K windows before merging segments (odd; 1 = off)"}
    )
    device: str = field(default="auto", metadata={"help": "auto, cpu, cuda or cuda:N"})
    dtype: Literal[DTYPE_CHOICES] = field(
        default="float32", metadata={"help": "model precision (half on GPU)"}
    )
    backend: Literal[BACKENDS] = field(
        default="pytorch", metadata={"help": "onnxruntime: the ONNX export"}
    )
    onnx_file: str | None = field(
        default=None,
        metadata={"help": "with --backend onnxruntime: e.g. model.int8.onnx (default model.onnx)"},
    )
    min_confidence: float | None = field(
        default=None,
        metadata={"help": "label files and windows whose top probability is below P "
                  "`uncertain` (0-1); not for a regression model, which has no class "
                  "probabilities", "metavar": "P"},
    )  # fmt: skip
    json: str | None = field(default=None, metadata={"help": "write all results and failures here"})
    csv: str | None = field(default=None, metadata={"help": "write one row per file here"})
    timeline: bool = field(
        default=False,
        metadata={"help": "print segments and put windows and segments in the JSON"},
    )
    csv_timeline: str | None = field(
        default=None, metadata={"help": "write one row per window of every file here"}
    )
    timeline_png: str | None = field(
        default=None, metadata={"help": "write one timeline picture per file here (DIR)"}
    )


def build_parser() -> CommandParser:
    return CommandParser(
        PredictOptions,
        prog="ser-predict",
        description="Classify audio files (any format libsndfile reads) with an "
        "audio-classification model;\n--timeline for emotions over time.",
    )
