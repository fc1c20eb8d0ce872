"""Targets standardised on the training split, and the scaling folded into the head at save time.

The regression head is trained on z = (y - mean) / std of each target (the training split's
mean and standard deviation), so targets on different scales (arousal 1-7, a valence of -1..1)
weigh alike in the loss and the head starts near its optimum. Before the model is saved, the
target rows of the last linear layer become W' = std W and b' = std b + mean, so the saved model
(and `pipeline`, ONNX, int8) answers in the user's units with no extra code, like the folded
calibration temperature (temperature.py). The numbers are kept in the config
(`ser_target_scaling`) to say what was done.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from training.model.task_outputs import OutputLayout
from training.model.temperature import last_linear_layer


@dataclass
class TargetScaling:
    """Each target's training mean and standard deviation; `folded` once the head answers in
    the user's units (losses and metrics then leave its outputs as they are)."""

    names: tuple[str, ...]
    mean: np.ndarray
    std: np.ndarray
    folded: bool = field(default=False)

    @classmethod
    def fit(cls, names: tuple[str, ...], values: np.ndarray) -> TargetScaling:
        """From the training split's (rows, targets) values; refuses a constant target."""
        values = np.asarray(values, dtype=np.float64)
        std = values.std(axis=0)
        constant = [name for name, s in zip(names, std, strict=True) if not s > 0]
        if constant:
            raise ValueError(
                f"target {', '.join(constant)} has one value on every training row: nothing to "
                "learn; leave it out of --targets"
            )
        return cls(tuple(names), values.mean(axis=0), std)

    def standardise(self, values: torch.Tensor) -> torch.Tensor:
        mean = torch.as_tensor(self.mean, dtype=values.dtype, device=values.device)
        std = torch.as_tensor(self.std, dtype=values.dtype, device=values.device)
        return (values - mean) / std

    def to_user_units(self, values: np.ndarray) -> np.ndarray:
        return np.asarray(values, dtype=np.float64) * self.std + self.mean

    def as_config(self) -> dict[str, list[float]]:
        """`ser_target_scaling`: {name: [mean, std]}."""
        return {
            name: [float(m), float(s)]
            for name, m, s in zip(self.names, self.mean, self.std, strict=True)
        }


@torch.no_grad()
def fold_scaling(model: torch.nn.Module, layout: OutputLayout, scaling: TargetScaling) -> None:
    """Make the head's target rows answer y = std z + mean (in place); the class rows stay."""
    if scaling.folded:
        raise ValueError("the target scaling is already folded into the model")
    layer = last_linear_layer(model)
    rows = layout.target_slice
    std = torch.as_tensor(scaling.std, dtype=layer.weight.dtype, device=layer.weight.device)
    mean = torch.as_tensor(scaling.mean, dtype=layer.weight.dtype, device=layer.weight.device)
    layer.weight[rows].mul_(std[:, None])
    if layer.bias is None:
        raise ValueError("the classifier has no bias to carry the targets' means")
    layer.bias[rows].mul_(std).add_(mean)
    scaling.folded = True
    model.config.ser_target_scaling = scaling.as_config()
