"""ONNX forms of a classifier: `model.onnx` (float) and `model.int8.onnx`, each kept only when
onnxruntime answers like the PyTorch model.

`model.onnx` comes from torch's TorchScript-based `torch.onnx.export` (`dynamo=False`): input
`input_values` (what the feature extractor returns), dynamic batch and length, output `logits`.
The dynamo-based exporter gives a graph that answers the same (within 1e-7) but traces with fake
tensors and symbolic shapes: 7.4 s against 0.13 s for the tiny preset, 10.7 s against 1.3 s for
the small one on a 2-core CPU. It is the fallback (EXPORTERS). A trace can fix a shape that
should stay dynamic, so either graph is kept only when onnxruntime answers like PyTorch on clips
of several lengths (export_scores). It has no attention mask,
so a batch must hold clips of one length: the group-norm CNN (wav2vec2-base and every preset)
normalises over the whole input, padding included. `model.int8.onnx` is onnxruntime's dynamic
quantization of the MatMul and Gemm weights (the transformer and the head); the convolutions,
and the first one that reads raw audio above all, stay float.

onnx, onnxruntime and (for the dynamo-based fallback) onnxscript are the `[onnx]` extra,
imported only here and only when used.
"""

from __future__ import annotations

import importlib
import logging
import warnings
from pathlib import Path

import numpy as np
import torch

from training.inference.output_scores import output_scores

logger = logging.getLogger(__name__)

ONNX_FILE = "model.onnx"
INT8_FILE = "model.int8.onnx"
ONNX_PACKAGES = ("onnx", "onnxruntime")
INSTALL_HINT = "pip install '.[onnx]' (onnx and onnxruntime)"
# The ops dynamic quantization turns into integer ops: every weight matrix of the transformer
# and head. Conv stays float: the first one reads raw audio, whose scale int8 cannot hold.
INT8_OPS = ("MatMul", "Gemm")
# onnxruntime runs opset 17 everywhere it is supported; it has LayerNormalization as one op.
OPSET = 17
# Tried in this order; the next one when an exporter fails or its graph answers differently.
# torch calls the TorchScript-based one legacy, and it may go in a later torch: then the
# dynamo-based one, 8-50x slower to export on CPU, takes over on its own.
EXPORTERS = ("torchscript", "dynamo")


def require_onnx(flag: str, packages: tuple[str, ...] = ONNX_PACKAGES) -> None:
    """ValueError naming `flag` and the extra to install when an ONNX package is missing."""
    missing = []
    for name in packages:
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
    if missing:
        raise ValueError(f"{flag} needs {', '.join(missing)}: {INSTALL_HINT}")


class _LogitsOnly(torch.nn.Module):
    """The classifier as ONNX sees it: input_values in, logits out."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, input_values: torch.Tensor) -> torch.Tensor:
        return self.model(input_values=input_values).logits


def receptive_field(config) -> int:
    """Samples the CNN needs for one frame (400 for wav2vec2-base): the shortest valid input."""
    kernels = getattr(config, "conv_kernel", None) or (400,)
    strides = getattr(config, "conv_stride", None) or (1,)
    field, jump = kernels[0], strides[0]
    for kernel, stride in zip(kernels[1:], strides[1:], strict=True):
        field += (kernel - 1) * jump
        jump *= stride
    return int(field)


def export_onnx(
    model: torch.nn.Module, path: Path, sampling_rate: int, exporter: str = "torchscript"
) -> Path:
    """Write `model` (eval mode, float32) as ONNX with dynamic batch and length, with one of
    EXPORTERS."""
    require_onnx("--onnx")
    if exporter not in EXPORTERS:
        raise ValueError(f"unknown ONNX exporter {exporter!r}: one of {', '.join(EXPORTERS)}")
    model = model.float().eval()
    example = torch.randn(1, sampling_rate, generator=torch.Generator().manual_seed(0))
    common = dict(input_names=["input_values"], output_names=["logits"], verbose=False)
    with torch.no_grad(), warnings.catch_warnings():
        if exporter == "dynamo":
            require_onnx("the dynamo-based ONNX exporter", ("onnxscript",))
            # onnx_ir and onnxscript's optimizer log a line per constant they fold (dozens).
            for name in ("onnx_ir", "onnxscript"):
                logging.getLogger(name).setLevel(logging.WARNING)
            length = torch.export.Dim("length", min=receptive_field(model.config))
            shapes = {"input_values": {0: torch.export.Dim("batch"), 1: length}}
            torch.onnx.export(
                _LogitsOnly(model).eval(), (example,), str(path), dynamo=True,
                dynamic_shapes=shapes, optimize=True, external_data=False, **common,
            )  # fmt: skip
            return Path(path)
        # The tracer warns at every Python-level branch on a tensor, and torch that this
        # exporter is the older one: the parity check on clips of several lengths, not these
        # lines, decides whether the graph is right (a trace can fix a shape).
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            _LogitsOnly(model).eval(), (example,), str(path), dynamo=False,
            dynamic_axes={"input_values": {0: "batch", 1: "length"}, "logits": {0: "batch"}},
            opset_version=OPSET, do_constant_folding=True, **common,
        )  # fmt: skip
    return Path(path)


def quantize_int8(float_path: Path, int8_path: Path) -> Path:
    """onnxruntime dynamic quantization of INT8_OPS' weights into `int8_path`."""
    require_onnx("--quantize int8")
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # The quantizer logs every tensor it leaves alone on the root logger: keep that quiet.
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        quantize_dynamic(
            str(float_path),
            str(int8_path),
            op_types_to_quantize=list(INT8_OPS),
            weight_type=QuantType.QInt8,
        )
    finally:
        root.setLevel(level)
    return Path(int8_path)


def onnx_session(path: Path, threads: int = 0):
    """An onnxruntime CPU session (`threads` 0: onnxruntime's choice)."""
    require_onnx("--backend onnxruntime")
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.log_severity_level = 3  # warnings about unused initializers are not the user's
    return onnxruntime.InferenceSession(
        str(path), sess_options=options, providers=["CPUExecutionProvider"]
    )


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


def session_logits(session, feature_extractor, clip: np.ndarray) -> np.ndarray:
    """An onnxruntime session's outputs (float64, one row) for one clip."""
    inputs = feature_extractor(
        clip, sampling_rate=feature_extractor.sampling_rate, return_tensors="np"
    )
    values = np.asarray(inputs["input_values"], dtype=np.float32)
    (logits,) = session.run(["logits"], {"input_values": values})
    return logits.astype(np.float64)[0]


def session_probabilities(session, feature_extractor, clip: np.ndarray) -> np.ndarray:
    """A classifier's probabilities (float64) for one clip: a softmax over every output."""
    return softmax(session_logits(session, feature_extractor, clip)[None])[0]


def session_scores(session, feature_extractor, clip: np.ndarray, layout) -> np.ndarray:
    """One clip's score row (float64; training.inference.output_scores): the ONNX backend's
    scoring (training.inference.onnx_backend), for every output layout."""
    if not layout.has_targets:  # a classifier: scored as it always was
        return session_probabilities(session, feature_extractor, clip)
    logits = torch.from_numpy(session_logits(session, feature_extractor, clip))
    return output_scores(logits, layout).numpy()


def as_answers(rows: list[np.ndarray], names: list[str], labels: list[str]) -> dict:
    """{clip name: {label: probability}}, the form export_check compares."""
    return {
        name: {label: float(p) for label, p in zip(labels, row, strict=True)}
        for name, row in zip(names, rows, strict=True)
    }


def label_agreement(first: dict, second: dict) -> float:
    """Fraction of clips whose top label is the same in two answer sets."""
    same = [max(first[n], key=first[n].get) == max(second[n], key=second[n].get) for n in first]
    return float(np.mean(same)) if same else float("nan")
