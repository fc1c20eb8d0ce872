"""The per-file table behind every reported test number: `test_predictions.csv`."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from data_scripts.common.atomic_write import write_text_atomic

if TYPE_CHECKING:  # only named in annotations: `ser-compare` reads tables without `datasets`
    import datasets

PREDICTIONS_FILE = "test_predictions.csv"
# The validation files' table, beside the test one: calibration and validation intervals
# recompute from it.
VALIDATION_PREDICTIONS_FILE = "validation_predictions.csv"
# RAVDESS's columns, in the order the table shows them.
FILE_COLUMNS = ("file", "actor", "gender", "vocal_channel", "intensity", "statement", "repetition")
# Columns no table shows: the audio, the label (shown by name), the length in samples and the
# audio fingerprint.
MODEL_ONLY_COLUMNS = ("audio", "label", "length", "audio_sha256")


def file_columns(dataset: datasets.Dataset) -> tuple[str, ...]:
    """RAVDESS's columns, or any other corpus's own: file first, then the dataset's order."""
    if set(FILE_COLUMNS) <= set(dataset.column_names):
        return FILE_COLUMNS
    rest = [c for c in dataset.column_names if c not in (*MODEL_ONLY_COLUMNS, "file")]
    return ("file", *rest)


def prediction_columns(label_names: list[str], columns=FILE_COLUMNS) -> list[str]:
    return [*columns, "true_emotion", "predicted_emotion"] + [
        f"prob_{name}" for name in label_names
    ]


def predictions_csv(
    dataset: datasets.Dataset, probabilities: np.ndarray, label_names: list[str]
) -> str:
    """One row per dataset row (in order): the file's fields, true and predicted emotion, and
    each emotion's probability (as `training.inference.predict` writes them)."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if probabilities.shape != (len(dataset), len(label_names)):
        raise ValueError(
            f"{probabilities.shape[0]} rows of probabilities for {len(dataset)} test files"
        )
    columns = file_columns(dataset)
    fields = dataset.select_columns([*columns, "label"]).to_dict()
    predicted = probabilities.argmax(axis=-1)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(prediction_columns(label_names, columns))
    for row in range(len(dataset)):
        writer.writerow(
            [fields[column][row] for column in columns]
            + [label_names[fields["label"][row]], label_names[predicted[row]]]
            + [f"{p:.6f}" for p in probabilities[row]]
        )
    return buffer.getvalue()


def write_predictions_csv(
    path: str | Path,
    dataset: datasets.Dataset,
    probabilities: np.ndarray,
    label_names: list[str],
) -> Path:
    """Write the table atomically: a reader never sees half of it."""
    path = Path(path)
    write_text_atomic(path, predictions_csv(dataset, probabilities, label_names))
    return path


def target_names(columns) -> list[str]:
    """The continuous targets a table holds (`true_<name>` beside `predicted_<name>`)."""
    return [
        c.removeprefix("true_")
        for c in columns
        if c.startswith("true_") and c != "true_emotion" and f"predicted_{c[5:]}" in columns
    ]


def read_predictions_table(path: str | Path) -> dict[str, list[str]]:
    """A per-file table as {column: values}; the one reader behind every recomputed number."""
    path = Path(path)
    try:
        with open(path, newline="") as handle:
            reader = csv.DictReader(handle)
            rows = list(reader)
            columns = list(reader.fieldnames or [])
    except FileNotFoundError:
        raise ValueError(f"{path}: no per-file table there (was the run finished?)") from None
    missing = [c for c in ("file", "true_emotion", "predicted_emotion") if c not in columns]
    if target_names(columns) and "file" in columns:
        missing = []  # a regression table: true_<target> and predicted_<target> instead
    if missing:
        raise ValueError(f"{path}: not a per-file table (no {', '.join(missing)} column)")
    return {column: [row[column] for row in rows] for column in columns}
