"""How far a run's probabilities can be trusted, and the temperature that makes them honest.

- expected calibration error (ECE): files put into 15 equal-width bins of their top
  probability; the files-weighted mean of |accuracy - mean top probability| over the bins;
- Brier score: mean over files of sum_k (p_k - [k is the truth])^2;
- log loss: mean over files of -log p_truth.

The temperature T is fitted on the validation set by minimising log loss over softmax(z / T).
The log loss is convex in 1/T, so a bracketing golden-section search on 1/T finds its minimum
without scipy. Training folds T into the classifier's last linear layer
(training.model.temperature), so every path that runs the saved model gives calibrated
probabilities, and argmax (the label) is unchanged.
"""

from __future__ import annotations

import numpy as np

ECE_BINS = 15
# The search range of 1/T: temperatures from 0.01 to 100 cover any model we have met.
INVERSE_TEMPERATURE_RANGE = (0.01, 100.0)


def softmax(logits: np.ndarray) -> np.ndarray:
    logits = np.asarray(logits, dtype=np.float64)
    shifted = logits - logits.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=-1, keepdims=True)


def expected_calibration_error(probabilities, truth, bins: int = ECE_BINS) -> float:
    """ECE over `bins` equal-width bins of the top probability (bin i holds (i/bins, (i+1)/bins],
    the first also 0)."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    truth = np.asarray(truth, dtype=np.int64)
    confidence = probabilities.max(axis=-1)
    correct = probabilities.argmax(axis=-1) == truth
    index = np.clip(np.ceil(confidence * bins).astype(int) - 1, 0, bins - 1)
    error = 0.0
    for b in range(bins):
        members = index == b
        if members.any():
            error += members.sum() * abs(correct[members].mean() - confidence[members].mean())
    return float(error / max(len(truth), 1))


def brier_score(probabilities, truth) -> float:
    probabilities = np.asarray(probabilities, dtype=np.float64)
    onehot = np.eye(probabilities.shape[-1])[np.asarray(truth, dtype=np.int64)]
    return float(((probabilities - onehot) ** 2).sum(axis=-1).mean())


def log_loss(probabilities, truth) -> float:
    probabilities = np.asarray(probabilities, dtype=np.float64)
    chosen = probabilities[np.arange(len(probabilities)), np.asarray(truth, dtype=np.int64)]
    return float(-np.log(np.clip(chosen, 1e-300, None)).mean())


def calibration_metrics(probabilities, truth) -> dict[str, float]:
    return {
        "ece": expected_calibration_error(probabilities, truth),
        "brier": brier_score(probabilities, truth),
        "log_loss": log_loss(probabilities, truth),
    }


def _log_loss_at(logits: np.ndarray, truth: np.ndarray, inverse_temperature: float) -> float:
    scaled = logits * inverse_temperature
    top = scaled.max(axis=-1)
    log_norm = top + np.log(np.exp(scaled - top[:, None]).sum(axis=-1))
    return float((log_norm - scaled[np.arange(len(truth)), truth]).mean())


def fit_temperature(logits, truth, iterations: int = 200) -> float:
    """The T > 0 minimising the log loss of softmax(logits / T) (golden section on 1/T, searched
    on a log scale)."""
    logits = np.asarray(logits, dtype=np.float64)
    truth = np.asarray(truth, dtype=np.int64)
    if not len(truth):
        raise ValueError("no validation files to fit a temperature on (--calibration none)")
    low, high = np.log(INVERSE_TEMPERATURE_RANGE[0]), np.log(INVERSE_TEMPERATURE_RANGE[1])
    ratio = (np.sqrt(5) - 1) / 2
    a, b = high - ratio * (high - low), low + ratio * (high - low)
    fa = _log_loss_at(logits, truth, np.exp(a))
    fb = _log_loss_at(logits, truth, np.exp(b))
    for _ in range(iterations):
        if fa < fb:
            high, b, fb = b, a, fa
            a = high - ratio * (high - low)
            fa = _log_loss_at(logits, truth, np.exp(a))
        else:
            low, a, fa = a, b, fb
            b = low + ratio * (high - low)
            fb = _log_loss_at(logits, truth, np.exp(b))
    return float(1.0 / np.exp((low + high) / 2))


def reliability_bins(probabilities, truth, bins: int = ECE_BINS) -> list[dict]:
    """Per non-empty bin: its range, files, mean top probability and accuracy (the diagram)."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    confidence = probabilities.max(axis=-1)
    correct = probabilities.argmax(axis=-1) == np.asarray(truth)
    index = np.clip(np.ceil(confidence * bins).astype(int) - 1, 0, bins - 1)
    return [
        {
            "low": b / bins,
            "high": (b + 1) / bins,
            "files": int((index == b).sum()),
            "confidence": float(confidence[index == b].mean()),
            "accuracy": float(correct[index == b].mean()),
        }
        for b in range(bins)
        if (index == b).any()
    ]
