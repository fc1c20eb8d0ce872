"""Cross-validation for the training command (`--cv_folds N|loso|emobox`): one run per fold,
then the folds' mean and std, every fold's test table pooled into one interval, and the card.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from pathlib import Path

from transformers import TrainingArguments

from data_scripts.common.atomic_write import write_json_atomic, write_text_atomic
from training.arguments import DataArguments, ModelArguments
from training.data.cv_folds import corpus_facts, cross_validation_folds
from training.data.protocol import corpus_protocol
from training.reports.cv_summary import (
    cv_summary_markdown,
    pooled_intervals_markdown,
    protocol_markdown,
    summarize_folds,
    write_cv_summary_card,
)
from training.reports.table_intervals import pooled_fold_intervals

logger = logging.getLogger(__name__)


def protocol_summary(summary: dict, metric_names: dict) -> dict:
    """Our cross-validation means and stds under a protocol's metric names, in % like its
    tables (EmoBox: UA, WA, macro-F1)."""
    return {
        name: {k: 100 * v for k, v in summary[ours].items()} for name, ours in metric_names.items()
    }


def _protocol_results(entry: dict, notes: list[dict], summary: dict) -> dict:
    """The view of a cross-validation over a corpus protocol's folds: its names, % units, and
    whether it is comparable (every fold's split says so: its rows, its file counts)."""
    return {
        "protocol": entry.get("description", entry["title"]),
        "title": entry["title"],
        "comparable": all(note["comparable"] for note in notes),
        "comparable_note": entry.get("comparable_note", ""),
        "note": notes[0]["note"],
        "metrics_percent": protocol_summary(summary, entry.get("metric_names") or {}),
        "names": dict(entry.get("metric_names") or {}),
    }


def run_cross_validation(
    model_args: ModelArguments,
    data_args: DataArguments,
    training_args: TrainingArguments,
    argv: list[str] | None,
    train_and_test: Callable,
) -> dict:
    """Speaker-independent cross-validation: one run per fold (`train_and_test`, the training
    command's single run), then mean and std, pooled intervals, the summary card."""
    root = Path(training_args.output_dir)
    folds, protocol_notes = [], []
    fold_settings = cross_validation_folds(data_args)
    for number, (fold, fold_data) in enumerate(fold_settings, start=1):
        fold_training = copy.deepcopy(training_args)
        fold_training.output_dir = str(root / f"fold_{fold}")
        logger.info("cross-validation fold %d of %d", number, len(fold_settings))
        metrics, split_info = train_and_test(model_args, fold_data, fold_training, argv)
        test = split_info["splits"]["test"]
        folds.append({"fold": fold, "test_speakers": test["speakers"], **metrics})
        if "protocol_check" in split_info:
            protocol_notes.append(split_info["protocol_check"])
    summary = summarize_folds(folds)
    results = {"folds": folds, "summary": summary}
    protocol = corpus_protocol(data_args)
    corpora = corpus_facts(data_args)
    if protocol:  # results under the protocol's name (cv_results.json's "emobox")
        entry = corpora[0]["protocols"][protocol]
        results[protocol] = _protocol_results(entry, protocol_notes, summary)
    if training_args.process_index == 0:
        # Every fold's test table pooled: one interval over every speaker.
        results["pooled_intervals"] = pooled_fold_intervals(root, folds, data_args)
        write_json_atomic(root / "cv_results.json", results)
        markdown = cv_summary_markdown(folds, summary, "speakers")
        markdown += "\n" + pooled_intervals_markdown(results["pooled_intervals"]) + "\n"
        if protocol:
            markdown = protocol_markdown(results[protocol]) + "\n\n" + markdown
        write_text_atomic(root / "cv_summary.md", markdown)
        write_cv_summary_card(
            root, folds, summary, results.get(protocol), corpora, results["pooled_intervals"]
        )
    return results
