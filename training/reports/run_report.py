"""What a finished run leaves for people: the per-file test table, split.json, run_info.json,
the two pictures and the model card, written in one place after the test.

run_info.json also records the SHA-256 of the saved `model.safetensors`, so an export can tell
the evaluated model from one changed afterwards (training.inference.export)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from data_scripts.common.atomic_write import write_json_atomic
from training.model.model_file import MODEL_WEIGHTS, sha256_of
from training.reports.calibration import softmax
from training.reports.model_card import write_model_card
from training.reports.per_file_results import (
    PREDICTIONS_FILE,
    VALIDATION_PREDICTIONS_FILE,
    write_predictions_csv,
)
from training.reports.plots import (
    CONFUSION_MATRIX_PNG,
    TRAINING_CURVES_PNG,
    plot_confusion_matrix,
    plot_training_curves,
)
from training.reports.reliability_plot import RELIABILITY_PNG, plot_reliability

CALIBRATION_FILE = "calibration.json"


@dataclass
class RunOutcome:
    """What training, evaluation and test produced; the report is written from this alone."""

    test: object  # the test split (a datasets.Dataset), in the order of `logits`
    label_names: list[str]
    logits: np.ndarray
    details: dict  # detailed test metrics, with the confusion matrix
    test_metrics: dict
    eval_metrics: dict
    split_info: dict
    run_info: dict
    training_history: list[dict]
    validation: object = None  # the validation split, in the order of `validation_logits`
    validation_logits: np.ndarray | None = None
    calibration: dict | None = None  # calibration.json (training.evaluation.run_evaluation)


def write_calibration(output_dir: Path, report: dict) -> None:
    """calibration.json (training.evaluation.run_evaluation.calibration_report) and its test
    reliability diagram; a classification run's and a multitask run's class head alike."""
    write_json_atomic(Path(output_dir) / CALIBRATION_FILE, report)
    plot_reliability(
        report["test_reliability"],
        Path(output_dir) / RELIABILITY_PNG,
        title="Test reliability (15 bins of the top probability)",
    )


def write_run_report(output_dir: Path, outcome: RunOutcome, card_facts: dict) -> None:
    """Write every file a person reads after a run. `card_facts`: the model card's description
    of the run (base model, corpus, pooling, `split_protocol`, training settings)."""
    output_dir = Path(output_dir)
    probabilities = torch.softmax(torch.from_numpy(outcome.logits).float(), dim=-1).numpy()
    write_predictions_csv(
        output_dir / PREDICTIONS_FILE, outcome.test, probabilities, outcome.label_names
    )
    if outcome.validation is not None and outcome.validation_logits is not None:
        validation_probabilities = softmax(outcome.validation_logits)
        write_predictions_csv(
            output_dir / VALIDATION_PREDICTIONS_FILE,
            outcome.validation,
            validation_probabilities,
            outcome.label_names,
        )
    if outcome.calibration is not None:
        write_calibration(output_dir, outcome.calibration)
    write_json_atomic(output_dir / "split.json", outcome.split_info)
    run_info = dict(outcome.run_info)
    weights = output_dir / MODEL_WEIGHTS
    if weights.is_file():
        run_info["model_file"] = {
            "name": MODEL_WEIGHTS,
            "size": weights.stat().st_size,
            "sha256": sha256_of(weights),
        }
    write_json_atomic(output_dir / "run_info.json", run_info)
    facts = dict(card_facts)
    protocol = facts.pop("split_protocol")
    plot_confusion_matrix(
        outcome.details["confusion_matrix"],
        outcome.label_names,
        output_dir / CONFUSION_MATRIX_PNG,
        title=f"Test confusion matrix ({protocol} split)",
    )
    plot_training_curves(outcome.training_history, output_dir / TRAINING_CURVES_PNG)
    write_model_card(
        output_dir,
        {
            **facts,
            "split": outcome.split_info,
            "test_metrics": outcome.test_metrics,
            "eval_metrics": outcome.eval_metrics,
            "run_info": run_info,
            "calibration": outcome.calibration,
            "test_table": output_dir / PREDICTIONS_FILE,
        },
    )
