"""`--class_weighting balanced`: cross-entropy weighted by inverse training counts.

Most corpora are unbalanced (RAVDESS's neutral has half the files of each other emotion;
CREMA-D's neutral fewer, EmoDB's anger more than twice its disgust). A class's weight is
N / (K x n_c) (scikit-learn's "balanced": N training clips, K classes present, n_c clips of the
class), so the weights average 1 over the training clips; a class absent from training gets 0.
The loss is handed to the Trainer as its `compute_loss_func`.
"""

from __future__ import annotations

import numpy as np
import torch

CHOICES = ("none", "balanced")


def balanced_class_weights(labels, num_classes: int) -> np.ndarray:
    """N / (K x n_c) for each class c present in `labels`, 0 for absent ones (float64)."""
    counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=num_classes)
    present = counts > 0
    weights = np.zeros(num_classes)
    weights[present] = counts.sum() / (present.sum() * counts[present])
    return weights


def weighted_cross_entropy(weights: np.ndarray):
    """A Trainer `compute_loss_func`: the weighted sum of the clips' cross-entropies divided by
    the clips in the (gradient-accumulated) batch, as transformers' own losses normalise."""
    table = torch.as_tensor(weights, dtype=torch.float32)

    def loss(outputs, labels, num_items_in_batch=None):
        logits = outputs["logits"]
        losses = torch.nn.functional.cross_entropy(
            logits.float(), labels, weight=table.to(logits.device), reduction="sum"
        )
        count = num_items_in_batch if num_items_in_batch is not None else labels.numel()
        return losses / count

    return loss


def describe_weights(weights: np.ndarray, label_names: list[str]) -> dict[str, float]:
    return {name: round(float(w), 6) for name, w in zip(label_names, weights, strict=True)}


def class_weighting(method: str, train) -> dict:
    """What run_info.json and the card record: the method and, when balanced, each class's
    weight from the training split's labels."""
    if method not in CHOICES:
        raise ValueError(f"--class_weighting {method!r} is not one of {', '.join(CHOICES)}")
    if method == "none":
        return {"method": "none"}
    names = list(train.features["label"].names)
    weights = balanced_class_weights(train["label"], len(names))
    return {"method": "balanced", "weights": describe_weights(weights, names)}


def loss_function(method: str, train):
    """The Trainer's compute_loss_func: None (the model's own cross-entropy) or weighted."""
    weighting = class_weighting(method, train)
    if weighting["method"] == "none":
        return None
    return weighted_cross_entropy(np.array(list(weighting["weights"].values())))
