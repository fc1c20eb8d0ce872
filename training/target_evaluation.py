"""Validation and test of a regression or multitask model once its scaling is folded in: the
outputs in row order, every score with its 95 % speaker-clustered interval, saved as
eval_results.json and test_results.json."""

from __future__ import annotations

import numpy as np

from training.evaluation.run_evaluation import split_speakers
from training.reports.calibration import calibration_metrics, softmax
from training.reports.intervals import bootstrap_intervals
from training.reports.metrics.regression_metrics import regression_intervals
from training.reports.scores import logits_of
from training.task_training import TargetTask
from training.trainer.early_stopping import early_stopping_record


def score_split(trainer, view, split, task: TargetTask, data_args, prefix: str):
    """The split's outputs (row order) and its `prefix`-keyed scores with intervals."""
    labels = task.labels.of_split(split)
    prediction = trainer.predict_in_order(view, labels, metric_key_prefix=prefix)
    logits = logits_of(prediction.predictions).astype(np.float64)
    classes, truth = task.truth(labels)
    speakers = split_speakers(split)
    scores = task.scores(logits, labels)
    scores["intervals"] = regression_intervals(
        task.target_outputs(logits),
        truth,
        speakers,
        task.layout.targets,
        data_args.bootstrap_resamples,
        data_args.bootstrap_seed,
    )
    if classes is not None:
        class_logits = logits[:, task.layout.class_slice]
        scores.update(calibration_metrics(softmax(class_logits), classes))  # as a classifier's
        scores["class_intervals"] = bootstrap_intervals(
            classes,
            class_logits.argmax(axis=-1),
            speakers,
            list(task.layout.classes),
            data_args.bootstrap_resamples,
            data_args.bootstrap_seed,
        )
    metrics = {f"{prefix}_{key}": value for key, value in scores.items()}
    metrics[f"{prefix}_loss"] = prediction.metrics.get(f"{prefix}_loss")
    metrics[f"{prefix}_samples"] = len(split)
    if prefix == "test":  # whether the run stopped early, beside the numbers it reached
        metrics["early_stopping"] = early_stopping_record(trainer)
    trainer.save_metrics("eval" if prefix == "eval" else prefix, metrics)
    return logits, metrics
