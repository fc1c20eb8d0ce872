"""What the model card and the cross-validation card share: number and table formatting and
the front matter (the corpus's own words are in its facts, corpus_card.py)."""

from __future__ import annotations

import numpy as np
from huggingface_hub import EvalResult, ModelCardData

HEADLINE_METRICS = {
    "accuracy": "Accuracy",
    "uar": "UAR (unweighted average recall)",
    "macro_f1": "Macro-F1",
}


def front_matter(
    metadata: dict, model_name: str | None = None, eval_results: list[EvalResult] | None = None
) -> str:
    """The card's YAML front matter, written by huggingface_hub's `ModelCardData` so the Hub
    (and `ModelCard.load`) read its metadata and model-index as it does every other card's."""
    data = ModelCardData(model_name=model_name, eval_results=eval_results or None, **metadata)
    return "---\n" + data.to_yaml() + "\n---\n"


def is_number(value) -> bool:
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool)


def percent(value) -> str:
    return f"{100 * float(value):.1f}" if is_number(value) else ""


def scalar(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list | tuple):
        return " ".join(str(v) for v in value)
    return str(value)


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def model_index_entry(
    facts: dict, split: str, task_name: str, metric_type: str, metric_name: str, value
) -> EvalResult:
    """One model-index entry for a number measured on the test split of the card's corpus."""
    return EvalResult(
        task_type="audio-classification",
        task_name=task_name,
        dataset_type=facts["name"],
        dataset_name=f"{facts['title']} ({split} split)",
        dataset_split="test",
        metric_type=metric_type,
        metric_name=metric_name,
        metric_value=round(float(value), 4),
    )


def early_stopping_text(record: dict | None) -> str:
    """The card's sentence on early stopping (training.trainer.early_stopping's record)."""
    if not record:
        return ""
    if not record.get("patience"):
        return f"Early stopping: off; all {record['epochs']:g} epochs ran."
    watched = (
        f"{record['patience']} evaluation(s) in a row without a gain of more than "
        f"{record['threshold']:g} in `{record['metric']}`"
    )
    if record["stopped_early"]:
        return (
            f"Early stopping: stopped after epoch {record['epochs_run']:g} of "
            f"{record['epochs']:g} ({record['evaluations']} evaluations; {watched}); the best "
            "checkpoint was kept."
        )
    return f"Early stopping: not triggered ({watched} would stop it); all epochs ran."
