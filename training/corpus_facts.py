"""What a run takes from its dataset rather than from RAVDESS: the label names, the groups the
test metrics are broken down by, and what the card says about the corpus."""

from __future__ import annotations

import datasets

from data_scripts.corpora.builder import recorded_corpus_facts
from data_scripts.corpora.ravdess.builder import CONFIG_CHANNELS
from data_scripts.corpora.ravdess.counts import describe_rows
from training.data import is_ravdess

# RAVDESS's own groups: its vocal channels and intensities.
RAVDESS_GROUPS = ("vocal_channel", "intensity")


def label_names(dataset: datasets.Dataset) -> list[str]:
    """The ClassLabel's names, in id order: the model's id2label."""
    return list(dataset.features["label"].names)


def group_columns(dataset: datasets.Dataset) -> tuple[str, ...]:
    """Columns the test metrics are broken down by: RAVDESS's channel and intensity, another
    corpus's own fields (CREMA-D's level), and the corpus when rows come from several."""
    if is_ravdess(dataset):
        return RAVDESS_GROUPS
    facts = recorded_corpus_facts(dataset) or {}
    columns = [c for c in facts.get("breakdown_fields", ()) if c in dataset.column_names]
    if "corpus" in dataset.column_names and len(set(dataset["corpus"])) > 1:
        columns.append("corpus")
    return tuple(columns)


def metric_groups(split: datasets.Dataset, columns: tuple[str, ...]) -> dict[str, list]:
    return {column: split[column] for column in columns}


def corpus_card_facts(dataset: datasets.Dataset, vocal_channel: str, test) -> dict:
    """The card's corpus facts: RAVDESS's counts per actor, or the corpus's recorded facts and
    description; `breakdown`: {column: values in the test split}."""
    columns = group_columns(dataset)
    breakdown = {column: sorted(set(test[column])) for column in columns}
    if is_ravdess(dataset):
        counts = describe_rows(
            dataset["actor"], dataset["vocal_channel"], CONFIG_CHANNELS[vocal_channel]
        )
        return {"corpus": counts, "breakdown": breakdown}
    facts = recorded_corpus_facts(dataset) or {
        "name": "dataset",
        "title": "a prepared dataset",
        "description": "",
    }
    lines = [
        line
        for line in (dataset.info.description or "").splitlines()
        if line.startswith(f"{facts.get('title')}:")
    ]
    return {"dataset": facts, "corpus": " ".join(lines), "breakdown": breakdown}
