"""The inference settings' choices and defaults (backends, precisions, voice-activity detectors,
batch size), kept free of torch so that the commands can build their options, print their help
and refuse a bad flag before they import the model stack."""

from __future__ import annotations

BACKENDS = ("pytorch", "onnxruntime")
DEFAULT_BATCH_SIZE = 8
# Model precisions, named as torch names its dtypes (training.inference.scoring maps them).
DTYPE_CHOICES = ("float32", "bfloat16", "float16")
VAD_CHOICES = ("silero", "none")
