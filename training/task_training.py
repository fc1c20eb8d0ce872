"""What a regression or multitask run does differently from a classification one: the output
layout its head is built with, the labels its batches carry, its loss and per-epoch metrics,
and the scaling folded into the head before it is saved (docs/dimensions.md).

The rest of the run (data, split, leakage audit, model building, Trainer, CNN cache, reports'
run facts) is the classification run's (training.wav2vec2_classification).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from transformers import EvalPrediction

from data_scripts.corpora.corpus_record import facts_of
from training.data.batch_labels import CLASS_LABELS, BatchLabels
from training.evaluation.run_evaluation import fit_and_fold
from training.model.regression_loss import task_loss
from training.model.target_scaling import TargetScaling, fold_scaling
from training.model.task_outputs import OutputLayout
from training.model.task_settings import parse_loss_weights, parse_names
from training.reports.metrics.regression_metrics import regression_metrics
from training.reports.scores import load_metric, logits_of
from training.trainer.class_weights import class_weighting


def task_layout(task: str, targets: str | None, dataset, source: str) -> OutputLayout:
    """The head's outputs for --task and --targets on `dataset`; refuses targets the corpus
    lacks, and classes where it has no labels."""
    classes = tuple(dataset.features["label"].names)
    names = parse_names(targets)
    if task == "classification":
        names = ()
    missing = [name for name in names if name not in dataset.column_names]
    if missing:
        raise ValueError(
            f"--targets {','.join(missing)}: no such column in {source}; prepare it with "
            "ser-prepare --target_columns NAMES (a manifest's or folder's numeric columns)"
        )
    if task != "regression" and not classes:
        raise ValueError(
            f"--task {task}: {source} holds no labels (continuous targets only); train it with "
            "--task regression"
        )
    return OutputLayout(task, classes if task != "regression" else (), names)


@dataclass
class TargetTask:
    """A regression or multitask run's layout, labels, scaling and loss weights."""

    layout: OutputLayout
    labels: BatchLabels
    scaling: TargetScaling
    loss_weights: tuple[float, float]
    ranges: dict  # {name: [min, max]} of the training split, where corpus.json has none

    @classmethod
    def of(cls, layout: OutputLayout, train, loss_weights: str | None) -> TargetTask:
        labels = BatchLabels(layout.targets, layout.has_classes)
        values = np.stack([np.asarray(train[name], np.float64) for name in layout.targets], 1)
        ranges = {
            name: [float(values[:, i].min()), float(values[:, i].max())]
            for i, name in enumerate(layout.targets)
        }
        scaling = TargetScaling.fit(layout.targets, values)
        return cls(layout, labels, scaling, parse_loss_weights(loss_weights), ranges)

    def target_outputs(self, logits: np.ndarray) -> np.ndarray:
        """The target part of the outputs, in the user's units (also before the fold)."""
        values = np.asarray(logits, np.float64)[:, self.layout.target_slice]
        return values if self.scaling.folded else self.scaling.to_user_units(values)

    def truth(self, label_rows: np.ndarray) -> tuple[np.ndarray | None, np.ndarray]:
        """(class ids or None, target values) from a split's labels (BatchLabels' layout)."""
        rows = np.asarray(label_rows, np.float64)
        classes = rows[:, 0].astype(np.int64) if self.layout.has_classes else None
        return classes, rows[:, -len(self.layout.targets) :]

    def loss(self, regression_loss: str, class_weighting_method: str, train):
        weights = None
        weighting = class_weighting(class_weighting_method, train)
        if weighting["method"] != "none":
            weights = np.array(list(weighting["weights"].values()))
        return task_loss(self.layout, self.scaling, regression_loss, self.loss_weights, weights)

    def scores(self, logits, label_rows) -> dict:
        """Per-target CCC, Pearson r and MAE and mean CCC; with classes also accuracy, UAR,
        macro-F1 and `combined` (the loss weights' mean of UAR and mean CCC)."""
        classes, truth = self.truth(label_rows)
        result = regression_metrics(self.target_outputs(logits), truth, self.layout.targets)
        if classes is not None:
            class_logits = np.asarray(logits)[:, self.layout.class_slice]
            scores = load_metric().compute(
                predictions=class_logits.argmax(axis=-1),
                references=classes,
                label_names=list(self.layout.classes),
            )
            scores.pop("confusion_matrix")
            result.update(scores)
            w_classes, w_targets = self.loss_weights
            result["combined"] = (w_classes * result["uar"] + w_targets * result["ccc"]) / (
                w_classes + w_targets
            )
        return result

    def compute_metrics(self, prediction: EvalPrediction) -> dict:
        return self.scores(logits_of(prediction.predictions), prediction.label_ids)


def labels_for_task(task: TargetTask | None) -> BatchLabels:
    return CLASS_LABELS if task is None else task.labels


def record_layout(model, task: TargetTask, record: dict | None) -> None:
    """Write the layout and the targets' ranges (corpus.json's, else the training split's)
    into the model's config before training, as OutputLayout says."""
    task.layout.write_to(model.config)
    recorded = facts_of(record).get("targets") or {}
    model.config.ser_target_ranges = {
        name: [float(v) for v in recorded.get(name) or task.ranges[name]]
        for name in task.layout.targets
    }


def fold_before_saving(trainer, model, task: TargetTask, view, split, calibration: str):
    """Multitask: fit the temperature on the class logits and fold it into the class rows only.
    Both: fold the target scaling into the target rows, so the saved model answers in the
    user's units. Returns the calibration record (None without a class head or with none):
    training.evaluation.run_evaluation's, so the report is the classification run's."""
    record = None
    if task.layout.has_classes and calibration != "none":
        labels = task.labels.of_split(split)
        prediction = trainer.predict_in_order(view, labels, metric_key_prefix="calibration")
        logits = logits_of(prediction.predictions).astype(np.float64)
        classes, _ = task.truth(labels)
        slice_ = task.layout.class_slice
        record = fit_and_fold(model, logits[:, slice_], classes, rows=slice_)
    fold_scaling(model, task.layout, task.scaling)
    return record
