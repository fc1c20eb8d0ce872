"""What a run adds to its bare scores: the temperature fitted on validation and folded into the
model before anything is saved or scored, and for validation and test the 95 % speaker-clustered
intervals and the calibration numbers of the saved (calibrated) model.

Order matters: the temperature is folded in before `save_model`, and validation and test are
scored after it, so every reported number and both per-file tables are what the saved model
gives; the numbers "before calibration" are those of logits x T (the unfolded model's logits).
"""

from __future__ import annotations

import logging

import numpy as np

from training.model.temperature import fold_temperature
from training.reports.calibration import (
    calibration_metrics,
    fit_temperature,
    reliability_bins,
    softmax,
)
from training.reports.intervals import bootstrap_intervals, speakers_of
from training.reports.scores import logits_of

logger = logging.getLogger(__name__)


def bootstrap_settings(data_args) -> dict:
    """--bootstrap_resamples and --bootstrap_seed as keyword arguments."""
    return {"resamples": data_args.bootstrap_resamples, "seed": data_args.bootstrap_seed}


def split_speakers(split) -> np.ndarray | None:
    """Each row's speaker (RAVDESS's actor, a corpus's speaker; per corpus when combined)."""
    columns = {
        name: split[name] for name in ("speaker", "actor", "corpus") if name in split.column_names
    }
    return speakers_of(columns)


def ordered_logits(trainer, view, split, prefix: str) -> tuple[np.ndarray, dict]:
    """The split's logits in row order, and the prediction's metrics."""
    prediction = trainer.predict_in_order(view, split["label"], metric_key_prefix=prefix)
    return logits_of(prediction.predictions).astype(np.float64), prediction.metrics


def calibrate(trainer, model, view, split, mode: str) -> dict | None:
    """Fit the temperature on the validation logits and fold it into `model` (in place).
    Returns {"temperature", "fitted_on", "files", "validation_before"}, None with mode none."""
    if mode == "none":
        return None
    logits, _ = ordered_logits(trainer, view, split, "calibration")
    return fit_and_fold(model, logits, np.asarray(split["label"]))


def fit_and_fold(model, logits, truth, rows: slice | None = None) -> dict:
    """Fit T on validation `logits` (the class outputs) and fold it into `model`'s last layer,
    into its `rows` only when given (a multitask head's class rows; its targets keep theirs)."""
    temperature = fit_temperature(logits, truth)
    fold_temperature(model, temperature, rows=rows)
    logger.info(
        "calibration: temperature %.4f fitted on %d validation files", temperature, len(truth)
    )
    return {
        "temperature": temperature,
        "fitted_on": "validation (log loss)",
        "files": len(truth),
        "validation_before": calibration_metrics(softmax(logits), truth),
    }


def split_extras(logits, split, label_names: list[str], data_args, prefix: str) -> dict:
    """The intervals and calibration numbers of one scored split, keys `prefix` + name."""
    logits = np.asarray(logits, dtype=np.float64)
    truth = np.asarray(split["label"])
    extras = {
        "intervals": bootstrap_intervals(
            truth,
            logits.argmax(axis=-1),
            split_speakers(split),
            label_names,
            data_args.bootstrap_resamples,
            data_args.bootstrap_seed,
        ),
        **calibration_metrics(softmax(logits), truth),
    }
    return {prefix + key: value for key, value in extras.items()}


def evaluate_validation(trainer, views, validation, data_args) -> tuple[dict, np.ndarray]:
    """The saved model on validation: the Trainer's metrics with intervals and calibration
    numbers (eval_results.json), and the logits in row order (its per-file table)."""
    eval_metrics = trainer.evaluate()
    trainer.log_metrics("eval", eval_metrics)
    logits, _ = ordered_logits(trainer, views["validation"], validation, "eval")
    names = validation.features["label"].names
    eval_metrics.update(split_extras(logits, validation, names, data_args, "eval_"))
    trainer.save_metrics("eval", eval_metrics)
    return eval_metrics, logits


def calibration_report(
    calibration: dict | None, validation_logits, validation, test_logits, test
) -> dict:
    """calibration.json: the temperature, and ECE, Brier and log loss before and after on
    validation and test (the saved model's logits and the splits), with the test reliability
    bins."""
    validation = (np.asarray(validation_logits, np.float64), np.asarray(validation["label"]))
    test = (np.asarray(test_logits, np.float64), np.asarray(test["label"]))
    temperature = calibration["temperature"] if calibration else None
    report = {"method": "temperature" if calibration else "none", "temperature": temperature}
    if calibration:
        report.update(fitted_on=calibration["fitted_on"], validation_files=calibration["files"])
    for name, (logits, truth) in (("validation", validation), ("test", test)):
        after = softmax(logits)
        entry = {"after": calibration_metrics(after, truth)} if calibration else {}
        if calibration:
            before = (
                calibration["validation_before"]
                if name == "validation"
                else calibration_metrics(softmax(logits * temperature), truth)
            )
            entry["before"] = before
        else:
            entry["uncalibrated"] = calibration_metrics(after, truth)
        report[name] = entry
    test_logits, test_truth = test
    report["test_reliability"] = {"saved model": reliability_bins(softmax(test_logits), test_truth)}
    if calibration:
        report["test_reliability"] = {
            "before": reliability_bins(softmax(test_logits * temperature), test_truth),
            "after (saved model)": reliability_bins(softmax(test_logits), test_truth),
        }
    return report
