"""Batch-independent forward passes: the CNN feature encoder sees each clip without padding.

Group-norm CNNs (wav2vec2-base, HuBERT-base, WavLM-base) normalise each channel over the whole
padded waveform, so zero padding changes every shorter clip's features. Everything after the
CNN is exact under padding in transformers: the encoder zeroes padded frames before its
positional convolution, masks attention, and pooling averages real frames. Inside the CNN only
the group-normalised first layer looks across time; the later convolutions have no padding of
their own, so their real frames see real frames only. So the first layer runs on each clip at
its real length (clips of equal length together), its outputs are zero-padded to the batch's
length, and the stock forward does the rest on the batch. data2vec-audio stacks several
positional convolutions, and the later ones read what the earlier ones wrote into padded frames:
those frames are zeroed again after each layer, as a clip alone would see zeros there. The model
itself is untouched: the layers get an instance `forward` or hooks and the base model a
pre-hook, all removable, and nothing of it is saved, so `save_pretrained` still writes a stock
directory.
"""

from __future__ import annotations

import torch
from torch import nn


def _unwrap(model: nn.Module) -> nn.Module:
    """The model inside DDP/compile wrappers."""
    while hasattr(model, "module") and isinstance(model.module, nn.Module):
        model = model.module
    return getattr(model, "_orig_mod", model)


def _has_group_norm(module: nn.Module) -> bool:
    return any(isinstance(m, nn.GroupNorm) for m in module.modules())


def feature_encoder(model: nn.Module) -> nn.Module | None:
    """The CNN of a wav2vec2-family model (`base_model.feature_extractor`), else None."""
    base = getattr(_unwrap(model), "base_model", None)
    cnn = getattr(base, "feature_extractor", None)
    return cnn if isinstance(cnn, nn.Module) and hasattr(cnn, "conv_layers") else None


def _stacked_positional_convs(model: nn.Module) -> list[nn.Module]:
    """data2vec-audio's positional conv layers but the last (their outputs feed another conv)."""
    encoder = getattr(getattr(_unwrap(model), "base_model", None), "encoder", None)
    layers = getattr(getattr(encoder, "pos_conv_embed", None), "layers", None)
    return list(layers)[:-1] if isinstance(layers, nn.ModuleList) else []


def padding_leaks(model: nn.Module) -> bool:
    """True when padding changes real frames: a CNN that normalises over time (group norm), or
    stacked positional convolutions. Layer-norm CNNs normalise each frame over channels, and
    their real frames see real samples only: they are exact under padding already.
    """
    cnn = feature_encoder(model)
    if cnn is None:
        return False
    return _has_group_norm(cnn) or bool(_stacked_positional_convs(model))


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


def _per_clip_unit(cnn: nn.Module, base: nn.Module):
    """The part of the CNN that must see clips unpadded, and its output length for n samples.

    wav2vec2-style group norm sits in the first conv layer only: run just that layer per clip.
    Any other layout: the whole CNN per clip.
    """
    layers = list(cnn.conv_layers)
    if _has_group_norm(layers[0]) and not any(_has_group_norm(layer) for layer in layers[1:]):
        conv = layers[0].conv
        kernel, stride = conv.kernel_size[0], conv.stride[0]
        return layers[0], lambda samples: (samples - kernel) // stride + 1
    return cnn, lambda samples: int(base._get_feat_extract_output_lengths(samples))


class BatchIndependence:
    """Installed on a model by `make_batch_independent`; `remove()` restores the stock model."""

    def __init__(self, model: nn.Module):
        self.base = _unwrap(model).base_model
        self.cnn = feature_encoder(model)
        self.mask: torch.Tensor | None = None
        self._hooks = [
            self.base.register_forward_pre_hook(self._capture_mask, with_kwargs=True),
            self.base.register_forward_hook(self._forget_mask),
        ]
        self._hooks += [
            layer.register_forward_hook(self._zero_padded_frames)
            for layer in _stacked_positional_convs(model)
        ]
        self.unit = None
        if _has_group_norm(self.cnn):
            self.unit, self._output_length = _per_clip_unit(self.cnn, self.base)
            self._stock_forward = self.unit.forward
            self.unit.forward = self._per_clip_forward
        self.cnn._batch_independence = self

    def _capture_mask(self, module, args, kwargs):
        self.mask = kwargs.get("attention_mask", args[1] if len(args) > 1 else None)

    def _forget_mask(self, module, args, output):
        self.mask = None

    def _zero_padded_frames(self, module, args, output: torch.Tensor) -> torch.Tensor:
        """Zero the padded frames of a (batch, channels, frames) positional conv output."""
        if self.mask is None:
            return output
        frames = self.base._get_feature_vector_attention_mask(output.shape[-1], self.mask)
        return output * frames[:, None, :].to(output.dtype)

    def _per_clip_forward(self, input_values: torch.Tensor) -> torch.Tensor:
        """The stock forward of `self.unit`, one length at a time; input (batch, [1,] samples)."""
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
            features = self._stock_forward(input_values[rows][..., :length])
            frames = max(frames, features.shape[-1])
            for position, row in enumerate(rows):
                parts[row] = features[position]
        # The batch's length is the full-length clip's: what the mask arithmetic expects.
        frames = max(frames, self._output_length(total))
        padded = [nn.functional.pad(part, (0, frames - part.shape[-1])) for part in parts]
        return torch.stack(padded)

    def remove(self) -> None:
        for hook in self._hooks:
            hook.remove()
        if self.unit is not None:
            del self.unit.forward
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
