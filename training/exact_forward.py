"""Batch-independent forward passes: the CNN feature encoder sees each clip without padding.

Group-norm CNNs (wav2vec2-base, HuBERT-base, WavLM-base) normalise each channel over the whole
padded waveform, so zero padding changes every shorter clip's features. Everything after the
CNN is exact under padding in transformers: the encoder zeroes padded frames before its
positional convolution, masks attention, and pooling averages real frames. So the CNN runs on
each clip at its real length (clips of equal length together), its outputs are zero-padded to
the batch's frame count, and the stock forward does the rest on the batch. The model itself is
untouched: its CNN gets an instance `forward` and its base model a pre-hook, both removable, and
nothing of it is saved, so `save_pretrained` still writes a stock directory.
"""

from __future__ import annotations

import torch
from torch import nn


def _unwrap(model: nn.Module) -> nn.Module:
    """The model inside DDP/compile wrappers."""
    while hasattr(model, "module") and isinstance(model.module, nn.Module):
        model = model.module
    return getattr(model, "_orig_mod", model)


def feature_encoder(model: nn.Module) -> nn.Module | None:
    """The CNN of a wav2vec2-family model (`base_model.feature_extractor`), else None."""
    base = getattr(_unwrap(model), "base_model", None)
    cnn = getattr(base, "feature_extractor", None)
    return cnn if isinstance(cnn, nn.Module) and hasattr(cnn, "conv_layers") else None


def padding_leaks(model: nn.Module) -> bool:
    """True when the CNN normalises over time (group norm), so padding changes its outputs.

    Layer-norm CNNs normalise each frame over channels, and their real frames see real samples
    only: they are exact under padding already.
    """
    cnn = feature_encoder(model)
    return cnn is not None and any(isinstance(m, nn.GroupNorm) for m in cnn.modules())


def _real_lengths(mask: torch.Tensor, num_samples: int) -> list[int]:
    """Sample counts from a right-padded attention mask; refuses other layouts."""
    lengths = mask.sum(-1)
    expected = torch.arange(num_samples, device=mask.device)[None, :] < lengths[:, None]
    if not torch.equal(mask.bool(), expected):
        raise ValueError(
            "the attention mask is not right-padded (ones then zeros); "
            "batch-independent inference needs the feature extractor's default right padding"
        )
    return lengths.tolist()


class BatchIndependence:
    """Installed on a model by `make_batch_independent`; `remove()` restores the stock model."""

    def __init__(self, model: nn.Module):
        self.base = _unwrap(model).base_model
        self.cnn = feature_encoder(model)
        self.mask: torch.Tensor | None = None
        self._stock_forward = self.cnn.forward
        self._hooks = [
            self.base.register_forward_pre_hook(self._capture_mask, with_kwargs=True),
            self.base.register_forward_hook(self._forget_mask),
        ]
        self.cnn.forward = self._per_clip_forward
        self.cnn._batch_independence = self

    def _capture_mask(self, module, args, kwargs):
        self.mask = kwargs.get("attention_mask", args[1] if len(args) > 1 else None)

    def _forget_mask(self, module, args, output):
        self.mask = None

    def _per_clip_forward(self, input_values: torch.Tensor) -> torch.Tensor:
        mask, total = self.mask, input_values.shape[-1]
        if mask is None:
            return self._stock_forward(input_values)
        lengths = _real_lengths(mask, total)
        if all(length == total for length in lengths):
            return self._stock_forward(input_values)
        by_length: dict[int, list[int]] = {}
        for row, length in enumerate(lengths):
            by_length.setdefault(length, []).append(row)
        parts: list[torch.Tensor | None] = [None] * len(lengths)
        frames = 0
        for length, rows in by_length.items():
            features = self._stock_forward(input_values[rows, :length])
            frames = max(frames, features.shape[-1])
            for position, row in enumerate(rows):
                parts[row] = features[position]
        # The batch's frame count is the full-length clip's: what the mask arithmetic expects.
        frames = max(frames, int(self.base._get_feat_extract_output_lengths(total)))
        padded = [nn.functional.pad(part, (0, frames - part.shape[-1])) for part in parts]
        return torch.stack(padded)

    def remove(self) -> None:
        for hook in self._hooks:
            hook.remove()
        del self.cnn.forward
        del self.cnn._batch_independence


def make_batch_independent(model: nn.Module) -> BatchIndependence | None:
    """Make `model`'s outputs for each clip independent of its batch; None if already so.

    Idempotent: a model that already has it keeps its one installation.
    """
    if not padding_leaks(model):
        return None
    cnn = feature_encoder(model)
    existing = getattr(cnn, "_batch_independence", None)
    return existing if existing is not None else BatchIndependence(model)
