"""Fold a calibration temperature into the classifier's last linear layer.

logits = W x + b; dividing W and b by T gives logits / T, so softmax(logits / T) comes out of the
model itself: the saved weights, `pipeline`, ONNX and int8 exports all answer with calibrated
probabilities and need no extra code, and the label (argmax) cannot change for T > 0.
"""

from __future__ import annotations

import torch
from torch import nn


def last_linear_layer(model: nn.Module) -> nn.Linear:
    """The layer that produces the logits: `classifier` of a *ForSequenceClassification model."""
    layer = getattr(model, "classifier", None)
    if not isinstance(layer, nn.Linear):
        raise ValueError(
            f"{type(model).__name__} has no `classifier` linear layer to fold a temperature "
            "into; train with --calibration none"
        )
    return layer


@torch.no_grad()
def fold_temperature(model: nn.Module, temperature: float) -> None:
    """Divide the last layer's weight and bias by `temperature` (in place)."""
    if not temperature > 0:
        raise ValueError(f"temperature {temperature}: must be positive")
    layer = last_linear_layer(model)
    layer.weight.div_(temperature)
    if layer.bias is not None:
        layer.bias.div_(temperature)
