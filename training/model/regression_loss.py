"""Losses of the regression and multitask heads, as Trainer `compute_loss_func`s.

`ccc` (the default, MSP-Podcast's convention): 1 minus the concordance correlation coefficient
of each target over the batch, averaged over targets. It rewards getting the spread and the
level of the ratings right, not just their order, and is what the runs are judged by. `mse`:
the mean squared error of the standardised targets. Both see standardised targets (the
training split's scaling, target_scaling.py), so no target outweighs another by its units.

A multitask loss adds the class part's cross-entropy: w_classes x CE + w_targets x regression
loss (`--loss_weights w_classes,w_targets`).

Batch labels (training.data.batch_labels): (B, T) raw target values for regression; (B, 1 + T)
with the class id first for multitask.
"""

from __future__ import annotations

import numpy as np
import torch

from training.model.target_scaling import TargetScaling
from training.model.task_outputs import OutputLayout

REGRESSION_LOSSES = ("ccc", "mse")


def ccc_loss(predicted: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    """1 - CCC per target column over the batch (population moments), averaged over targets."""
    mean_p, mean_t = predicted.mean(dim=0), truth.mean(dim=0)
    var_p = ((predicted - mean_p) ** 2).mean(dim=0)
    var_t = ((truth - mean_t) ** 2).mean(dim=0)
    covariance = ((predicted - mean_p) * (truth - mean_t)).mean(dim=0)
    ccc = 2 * covariance / (var_p + var_t + (mean_p - mean_t) ** 2 + 1e-8)
    return 1 - ccc.mean()


def mse_loss(predicted: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.mse_loss(predicted, truth)


def task_loss(
    layout: OutputLayout,
    scaling: TargetScaling,
    regression_loss: str = "ccc",
    loss_weights: tuple[float, float] = (1.0, 1.0),
    class_weights: np.ndarray | None = None,
):
    """The Trainer's compute_loss_func for a regression or multitask head.

    Each micro-batch's loss is weighted by its share of the accumulated batch's label values
    (`num_items_in_batch`), so gradient accumulation gives the mean over micro-batches."""
    if regression_loss not in REGRESSION_LOSSES:
        raise ValueError(
            f"--regression_loss {regression_loss!r}: choose one of {', '.join(REGRESSION_LOSSES)}"
        )
    regress = ccc_loss if regression_loss == "ccc" else mse_loss
    table = None if class_weights is None else torch.as_tensor(class_weights, dtype=torch.float32)

    def loss(outputs, labels, num_items_in_batch=None):
        logits = outputs["logits"].float()
        labels = labels.float()
        predicted = logits[:, layout.target_slice]
        if scaling.folded:  # the head answers in user units: compare in standard units
            predicted = scaling.standardise(predicted)
        truth = scaling.standardise(labels[:, -len(layout.targets) :])
        total = loss_weights[1] * regress(predicted, truth)
        if layout.has_classes:
            weight = None if table is None else table.to(logits.device)
            classes = torch.nn.functional.cross_entropy(
                logits[:, layout.class_slice], labels[:, 0].long(), weight=weight
            )
            total = total + loss_weights[0] * classes
        if num_items_in_batch is not None:
            total = total * (labels.numel() / float(num_items_in_batch))
        return total

    return loss
