"""The options of ser-serve and ser-stream, in a module without torch or the web framework: the
commands (training.serving.serve, .stream) print their help and refuse a bad flag or options file
before they load the model."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from training.inference.choices import BACKENDS, VAD_CHOICES

# Raw sample formats (ffmpeg's names): numpy type, bytes per sample (training.serving.audio_input).
FORMATS = {"s16le": ("<i2", 2), "f32le": ("<f4", 4)}
FORMAT_CHOICES = tuple(FORMATS)


@dataclass
class ModelFolderOptions:
    """MODEL_DIR, --backend, --onnx_file and --device: the server's and the stream's options
    (their option dataclasses extend this one)."""

    model_dir: str | None = field(
        default=None,
        metadata={"positional": True,
                  "help": "model directory (a training run, a fold or an export)"},
    )  # fmt: skip
    backend: Literal[BACKENDS] = field(
        default="pytorch", metadata={"help": "onnxruntime: the ONNX export"}
    )
    onnx_file: str | None = field(
        default=None, metadata={"help": "with --backend onnxruntime: e.g. model.int8.onnx"}
    )
    device: str = field(default="auto", metadata={"help": "auto, cpu, cuda or cuda:N"})


@dataclass
class ServeOptions(ModelFolderOptions):
    """ser-serve's options (flags, or keys of an `--options` file)."""

    host: str = field(
        default="127.0.0.1",
        metadata={"help": "address to bind (127.0.0.1: this machine only)"},
    )
    port: int = field(default=8000, metadata={"help": "port to listen on"})
    max_upload_mb: float = field(
        default=50.0, metadata={"help": "largest request body accepted (413 beyond)"}
    )
    max_seconds: float = field(
        default=600.0, metadata={"help": "longest recording accepted, in seconds (413 beyond)"}
    )
    workers: int = field(
        default=1,
        metadata={"help": "requests scored at once, each worker with its own copy of the model "
                  "(memory grows with it)"},
    )  # fmt: skip
    queue_size: int = field(
        default=32,
        metadata={"help": "requests that may wait for a worker; more get 503 with Retry-After"},
    )


@dataclass
class StreamOptions(ModelFolderOptions):
    """ser-stream's options (flags, or keys of an `--options` file)."""

    source: str | None = field(
        default=None, metadata={"positional": True, "nargs": "?", "help": "the same as --input"}
    )
    input: str | None = field(
        default=None,
        metadata={"help": "mic (default), - for raw PCM on standard input, or a file: an audio "
                  "file libsndfile reads, else raw PCM as --format says"},
    )  # fmt: skip
    format: Literal[FORMAT_CHOICES] = field(
        default="s16le", metadata={"help": "raw PCM sample format (little-endian)"}
    )
    sample_rate: int | None = field(
        default=None, metadata={"help": "raw PCM rate (default: the model's)"}
    )
    channels: int = field(default=1, metadata={"help": "raw PCM channels (averaged)"})
    window_seconds: float | None = field(
        default=None, metadata={"help": "window length (default: the model's own, as predict)"}
    )
    hop_seconds: float | None = field(
        default=None, metadata={"help": "step between windows (default: the window)"}
    )
    vad: Literal[VAD_CHOICES] = field(
        default="silero", metadata={"help": "silero: windows without speech are `silence`"}
    )
