"""Intervals recomputed from saved per-file tables: one run's, or all folds' pooled.

A cross-validation tests every speaker once; pooling its folds' tables gives one interval over
all speakers, the one to quote when a single split holds few test speakers."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from training.reports.intervals import (
    DEFAULT_RESAMPLES,
    DEFAULT_SEED,
    bootstrap_intervals,
    speakers_of,
)
from training.reports.per_file_results import PREDICTIONS_FILE, read_predictions_table


def table_label_names(columns: dict[str, list[str]]) -> list[str]:
    """The model's classes in id order, from the table's `prob_<name>` columns."""
    return [name.removeprefix("prob_") for name in columns if name.startswith("prob_")]


def class_ids(names: list[str], label_names: list[str], path) -> np.ndarray:
    index = {name: i for i, name in enumerate(label_names)}
    unknown = sorted(set(names) - set(index))
    if unknown:
        raise ValueError(f"{path}: labels {', '.join(unknown)} are not among the table's classes")
    return np.array([index[name] for name in names], dtype=np.int64)


def table_intervals(
    columns: dict[str, list[str]],
    path="the table",
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> dict:
    """The speaker-clustered intervals of a per-file table (as `read_predictions_table` reads)."""
    names = table_label_names(columns)
    truth = class_ids(columns["true_emotion"], names, path)
    predicted = class_ids(columns["predicted_emotion"], names, path)
    return bootstrap_intervals(truth, predicted, speakers_of(columns), names, resamples, seed)


def pooled_columns(tables: list[dict[str, list[str]]], paths: list) -> dict[str, list[str]]:
    """The rows of several tables with the same columns, one after the other."""
    first = list(tables[0])
    for table, path in zip(tables[1:], paths[1:], strict=True):
        if list(table) != first:
            raise ValueError(f"{path}: its columns differ from {paths[0]}'s; cannot pool them")
    return {column: [v for table in tables for v in table[column]] for column in first}


def pooled_fold_intervals(root: Path, folds: list[dict], data_args=None) -> dict:
    """One interval over every fold's test files (`root`/fold_<k>/test_predictions.csv);
    resamples and seed from `data_args` (--bootstrap_resamples, --bootstrap_seed)."""
    resamples = getattr(data_args, "bootstrap_resamples", DEFAULT_RESAMPLES)
    seed = getattr(data_args, "bootstrap_seed", DEFAULT_SEED)
    paths = [Path(root) / f"fold_{fold['fold']}" / PREDICTIONS_FILE for fold in folds]
    tables = [read_predictions_table(path) for path in paths]
    result = table_intervals(pooled_columns(tables, paths), "the folds' tables", resamples, seed)
    result["folds"] = len(paths)
    if result.get("unit") == "speaker" and "note" in result:
        # "use --cv_folds" does not apply to the pool itself; "rough" still does.
        result["note"] = f"only {result['speakers']} speakers in all: the interval is rough"
    return result
