"""What a regression or multitask run leaves for people: the per-file tables with each file's
true and predicted target values, a scatter plot per target, split.json, run_info.json, the
training curves and the model card (its results section: training.reports.target_card)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from data_scripts.common.atomic_write import write_json_atomic, write_text_atomic
from training.model.model_file import MODEL_WEIGHTS, sha256_of
from training.reports.calibration import softmax
from training.reports.model_card import write_model_card
from training.reports.per_file_results import (
    PREDICTIONS_FILE,
    VALIDATION_PREDICTIONS_FILE,
    file_columns,
)
from training.reports.plots import TRAINING_CURVES_PNG, _save_figure, plot_training_curves
from training.reports.run_report import write_calibration


def scatter_file(target: str) -> str:
    return f"scatter_{target}.png"


def target_table_csv(dataset, logits: np.ndarray, task) -> str:
    """A run's per-file table of `dataset` (a split) from its logits: the saved model's target
    values, and for a class head the softmax over its class outputs (`target_rows_csv`)."""
    layout = task.layout
    probabilities = None
    if layout.has_classes:
        probabilities = softmax(np.asarray(logits, np.float64)[:, layout.class_slice])
    return target_rows_csv(dataset, task.target_outputs(logits), probabilities, layout)


def target_rows_csv(dataset, values: np.ndarray, probabilities, layout) -> str:
    """One row per dataset row, in order: the file's fields, then per target the true and the
    predicted value (`values`, the user's units), then with `probabilities` (a class head's, one
    row each) the true emotion (the corpus's label name), the predicted one and each class's
    probability. Training's tables and ser-evaluate's for another corpus alike."""
    columns = [c for c in file_columns(dataset) if c not in layout.targets]
    with_classes = probabilities is not None
    fields = dataset.select_columns(
        [*columns, *(["label"] if with_classes else []), *layout.targets]
    ).to_dict()
    header = list(columns)
    for name in layout.targets:
        header += [f"true_{name}", f"predicted_{name}"]
    if with_classes:
        names = dataset.features["label"].names
        header += ["true_emotion", "predicted_emotion"] + [f"prob_{c}" for c in layout.classes]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for row in range(len(dataset)):
        cells = [fields[column][row] for column in columns]
        for index, name in enumerate(layout.targets):
            # Nine significant digits round-trip float32, so every metric recomputes from the table
            # (six decimals moved a nearly constant model's Pearson r by 2e-5).
            cells += [f"{float(fields[name][row]):.9g}", f"{values[row, index]:.9g}"]
        if with_classes:
            cells += [names[fields["label"][row]],
                      layout.classes[int(probabilities[row].argmax())]]  # fmt: skip
            cells += [f"{p:.6f}" for p in probabilities[row]]
        writer.writerow(cells)
    return buffer.getvalue()


def plot_scatter(truth, predicted, target: str, ccc: float, path: Path) -> Path:
    """Predicted against true values of one target, with the identity line."""
    figure = Figure(figsize=(4.8, 4.6))
    axes = figure.subplots()
    axes.scatter(truth, predicted, s=10, alpha=0.6)
    low = float(min(np.min(truth), np.min(predicted)))
    high = float(max(np.max(truth), np.max(predicted)))
    axes.plot([low, high], [low, high], "k--", linewidth=1, label="predicted = true")
    axes.set_xlabel(f"true {target}")
    axes.set_ylabel(f"predicted {target}")
    axes.set_title(f"Test {target}: CCC {ccc:.3f}")
    axes.legend(loc="upper left", fontsize=8)
    figure.tight_layout()
    return _save_figure(figure, path)


def write_target_report(
    output_dir: Path, task, outcome: dict, card_facts: dict, training_history: list[dict]
) -> None:
    """Every file a person reads after the run. `outcome`: test, test_logits, test_metrics,
    validation, validation_logits, eval_metrics, split_info, run_info, calibration."""
    output_dir = Path(output_dir)
    write_text_atomic(
        output_dir / PREDICTIONS_FILE,
        target_table_csv(outcome["test"], outcome["test_logits"], task),
    )
    write_text_atomic(
        output_dir / VALIDATION_PREDICTIONS_FILE,
        target_table_csv(outcome["validation"], outcome["validation_logits"], task),
    )
    _, truth = task.truth(task.labels.of_split(outcome["test"]))
    predicted = task.target_outputs(outcome["test_logits"])
    for index, name in enumerate(task.layout.targets):
        ccc = outcome["test_metrics"][f"test_ccc_{name}"]
        plot_scatter(truth[:, index], predicted[:, index], name, ccc,
                     output_dir / scatter_file(name))  # fmt: skip
    write_json_atomic(output_dir / "split.json", outcome["split_info"])
    run_info = dict(outcome["run_info"])
    weights = output_dir / MODEL_WEIGHTS
    if weights.is_file():
        run_info["model_file"] = {"name": MODEL_WEIGHTS, "size": weights.stat().st_size,
                                  "sha256": sha256_of(weights)}  # fmt: skip
    write_json_atomic(output_dir / "run_info.json", run_info)
    if outcome.get("calibration"):  # a multitask run's class head
        write_calibration(output_dir, outcome["calibration"])
    plot_training_curves(training_history, output_dir / TRAINING_CURVES_PNG)
    facts = dict(card_facts)
    write_model_card(
        output_dir,
        {
            **facts,
            "split": outcome["split_info"],
            "test_metrics": outcome["test_metrics"],
            "eval_metrics": outcome["eval_metrics"],
            "run_info": run_info,
            "calibration": outcome.get("calibration"),
            "test_table": output_dir / PREDICTIONS_FILE,
            "task": {
                "task": task.layout.task,
                "targets": list(task.layout.targets),
                "loss_weights": list(task.loss_weights),
            },
        },
    )
