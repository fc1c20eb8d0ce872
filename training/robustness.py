"""Robustness evaluation (`ser-evaluate --conditions ...`): a saved model scored on a prepared
corpus under each condition (training.augment.conditions), each with its per-file table and
results, then one table, one PNG and the model card's `## Robustness` section.

Which files: when the model folder holds the run's `test_predictions.csv` and every file of it
is in the corpus, the run's test split only (the model never trained on it); otherwise every
file of the corpus (another corpus: cross-corpus robustness). Scoring is cross_corpus's: the
same probabilities as `pipeline` gives each corrupted clip, the same two numbers.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from transformers import AutoFeatureExtractor

from data_scripts.common.atomic_write import write_json_atomic, write_text_atomic
from training.augment.conditions import Condition, Corruptor
from training.cross_corpus import (
    PREDICTIONS_FILE,
    RESULTS_FILE,
    corpus_name,
    evaluate_probabilities,
    load_eval_dataset,
    predictions_table,
    score_dataset,
)
from training.reports.robustness_card import (
    ROBUSTNESS_DIR,
    ROBUSTNESS_PNG,
    plot_accuracy_by_condition,
    robustness_markdown,
    update_card,
)

CARD = "README.md"


def run_test_files(model_dir: Path, dataset) -> list[int] | None:
    """Rows of `dataset` that are the run's test split (from its test_predictions.csv), or
    None when the folder has no such table or some of its files are not in the corpus."""
    table = Path(model_dir) / PREDICTIONS_FILE
    if not table.is_file():
        return None
    with table.open(newline="") as handle:
        files = [row["file"] for row in csv.DictReader(handle)]
    rows = {name: i for i, name in enumerate(dataset["file"])}
    if not files or any(name not in rows for name in files):
        return None
    return sorted(rows[name] for name in files)


def _model_rate(model_dir: Path) -> int:
    """The rate the model hears (the prepared audio is at it): the corruptions' rate."""
    return int(AutoFeatureExtractor.from_pretrained(model_dir).sampling_rate)


def evaluate_condition(model_dir, dataset, condition: Condition, corruptor, folder, batch_size):
    """Score one condition; write its table and results; return the results."""
    files = dataset["file"]
    probabilities, labels, short = score_dataset(
        model_dir,
        dataset,
        batch_size,
        transform=lambda audio, row: corruptor(audio, condition, files[row]),
    )
    names = dataset.features["label"].names
    keep = [i for i in range(len(dataset)) if i not in set(short)]
    true_names = [names[label] for label in np.asarray(dataset["label"])[keep]]
    results = {
        "condition": condition.name,
        "source": corruptor.source(condition),
        "files": len(dataset),
        "dropped_too_short": [files[i] for i in short],
        **evaluate_probabilities(probabilities[keep], true_names, labels),
    }
    table = predictions_table(dataset, probabilities, labels, results["shared_labels"], set(short))
    write_text_atomic(folder / condition.name / PREDICTIONS_FILE, table)
    write_json_atomic(folder / condition.name / RESULTS_FILE, results)
    return results


def evaluate_robustness(
    model_dir,
    dataset_dir,
    conditions: list[Condition],
    output_dir=None,
    seed: int = 0,
    noise_dir: str | None = None,
    rir_dir: str | None = None,
    batch_size: int = 8,
) -> dict:
    """Every condition on one corpus; writes robustness/NAME/ and returns its report."""
    model_dir = Path(model_dir)
    output_dir = Path(output_dir or model_dir)
    corruptor = Corruptor(_model_rate(model_dir), seed, noise_dir, rir_dir)  # folders checked
    corruptor.check(conditions)
    dataset = load_eval_dataset(dataset_dir)
    name = corpus_name(dataset, dataset_dir)
    test_rows = run_test_files(model_dir, dataset)
    if test_rows is not None:
        dataset = dataset.select(test_rows, keep_in_memory=True)
        note = f"The run's test split ({len(dataset)} files of {name}, from {PREDICTIONS_FILE})."
    else:
        note = f"Every file of {name} ({len(dataset)} files)."
    folder = output_dir / ROBUSTNESS_DIR / name
    report = {
        "corpus": name,
        "dataset_dir": str(dataset_dir),
        "model_dir": str(model_dir),
        "seed": seed,
        "files_note": note,
        "conditions": [
            evaluate_condition(model_dir, dataset, condition, corruptor, folder, batch_size)
            for condition in conditions
        ],
    }
    write_json_atomic(folder / "robustness.json", report)
    plot_accuracy_by_condition(report, folder / ROBUSTNESS_PNG)
    write_text_atomic(folder / "README.md", robustness_markdown(report) + "\n")
    return report


def summarise_in_card(output_dir, model_dir, reports: list[dict]) -> None:
    """The model card's robustness section, when the results went into the model's folder."""
    if Path(output_dir or model_dir).resolve() == Path(model_dir).resolve():
        update_card(Path(model_dir) / CARD, reports)
