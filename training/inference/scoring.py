"""The scorer: a saved audio classifier, its feature extractor and device, loaded once, turning
arrays of samples into score rows (class probabilities, then target values:
training.inference.output_scores). Batches of unequal clips are padded with the
extractor's mask and made batch-independent (`training.model.exact_forward`), so a clip's answer
is what `pipeline` gives it alone. Another backend only needs the same attributes and methods:
`scores(arrays)`, `sampling_rate`, `decode_settings`, `layout`, `too_short(n)`, `device`.
"""

from __future__ import annotations

import inspect
import pickle
from pathlib import Path

import numpy as np
import torch

from training.inference.choices import DTYPE_CHOICES
from training.inference.output_scores import output_scores
from training.model.checkpoint_refusal import refusal_message, weights_file
from training.model.decode_settings import model_decode_settings
from training.model.exact_forward import feature_encoder, make_batch_independent
from training.model.remote_code import load_feature_extractor
from training.model.short_clips import too_short
from training.model.task_outputs import OutputLayout
from training.model.trained_classifier import load_trained_classifier

DTYPES = {name: getattr(torch, name) for name in DTYPE_CHOICES}


def resolve_device(device: str) -> torch.device:
    """`auto` picks CUDA when it is available."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"--device {device}: CUDA is not available on this machine")
    return torch.device(device)


def _padding_argument(feature_extractor) -> dict:
    """Ask for padding to the longest clip unless the extractor pads in its own way, and for
    the attention mask wherever the extractor can give one.

    wav2vec2-style extractors default to no padding (a ragged batch fails), while e.g.
    Whisper's pads to a fixed length that its model requires: keep such defaults. The mask
    keeps per-utterance normalisation and pooling to real samples; wav2vec2-base checkpoints'
    extractors leave it out by default, and then padding changes every shorter clip.
    """
    parameters = inspect.signature(feature_extractor.__call__).parameters
    arguments = {}
    parameter = parameters.get("padding")
    if parameter is not None and parameter.default is False:
        arguments["padding"] = True
    if "return_attention_mask" in parameters:
        arguments["return_attention_mask"] = True
    return arguments


class Scorer:
    """Model, feature extractor and device, loaded once; turns arrays into score rows."""

    def __init__(self, model_dir: str | Path, device: str, dtype: str):
        if dtype not in DTYPES:
            raise ValueError(f"--dtype {dtype}: choose one of {', '.join(DTYPES)}")
        self.device = resolve_device(device)
        if self.device.type == "cpu" and dtype == "float16":
            raise ValueError("--dtype float16 needs a GPU; use float32 or bfloat16 on CPU")
        self.feature_extractor = load_feature_extractor(model_dir)
        try:
            self.model = load_trained_classifier(model_dir, dtype=DTYPES[dtype])
        except pickle.UnpicklingError as error:
            raise ValueError(refusal_message(weights_file(model_dir), error)) from error
        self.model.to(self.device).eval()
        # Each clip's CNN features come from the clip alone: batch mates change nothing.
        make_batch_independent(self.model)
        if self.device.type == "cpu":
            _cnn_one_clip_at_a_time(self.model)
        self.dtype = DTYPES[dtype]
        self.sampling_rate = self.feature_extractor.sampling_rate
        self.decode_settings = model_decode_settings(self.feature_extractor)
        self.layout = OutputLayout.from_config(self.model.config)
        self._padding = _padding_argument(self.feature_extractor)

    def too_short(self, num_samples: int) -> bool:
        """True when the model's feature encoder yields no frame for this many samples.

        Such a clip fails alone and gets a meaningless score when padded in a batch, so it is
        reported instead (training drops it by the same rule: training.model.short_clips); models
        without wav2vec2's length formula are not checked.
        """
        return too_short(self.model, num_samples)

    @property
    def labels(self) -> list[str]:
        """The class names (none for a regression model)."""
        return list(self.layout.classes)

    def probabilities(self, arrays: list[np.ndarray]) -> np.ndarray:
        """Class probabilities (float32, one row per array): the class part of `scores`."""
        return self.scores(arrays)[:, self.layout.class_slice]

    @torch.inference_mode()
    def scores(self, arrays: list[np.ndarray]) -> np.ndarray:
        """Score rows (float32, one per array: class probabilities, then target values),
        padding with the extractor's mask."""
        inputs = self.feature_extractor(
            arrays, sampling_rate=self.sampling_rate, return_tensors="pt", **self._padding
        )
        inputs = {
            name: value.to(self.device, self.dtype)
            if value.is_floating_point()
            else value.to(self.device)
            for name, value in inputs.items()
        }
        # The positional convolution's weight norm is recomputed on every call unless cached.
        with torch.nn.utils.parametrize.cached():
            logits = self.model(**inputs).logits
        return output_scores(logits.float(), self.layout).cpu().numpy()


def _cnn_one_clip_at_a_time(model) -> None:
    """On CPU, run the CNN feature encoder on one clip at a time when the batch has no padding.

    A 3.7 s clip's first CNN layers hold 24 MB of activations; eight clips at once no longer fit
    the caches, and the whole forward runs 1.3x slower per clip on a 2-core CPU than with the CNN
    looping over clips and the transformer on the batch (BENCHMARKS.md, long recordings). The
    results are the same: every CNN layer works on each clip separately. Padded batches keep
    the batch-independent path (training.model.exact_forward), which reads the batch's mask.
    """
    cnn = feature_encoder(model)
    if cnn is None:
        return
    stock = cnn.forward

    def forward(input_values: torch.Tensor) -> torch.Tensor:
        independence = getattr(cnn, "_batch_independence", None)
        mask = independence.mask if independence is not None else None
        if len(input_values) == 1 or (mask is not None and not bool(mask.all())):
            return stock(input_values)
        return torch.cat([stock(input_values[i : i + 1]) for i in range(len(input_values))])

    cnn.forward = forward
