"""What a run takes from its dataset and the corpus's record (corpus.json), whichever corpus it
is: the label names, the groups the test metrics are broken down by, and what the card says
about the corpus."""

from __future__ import annotations

import datasets

from data_scripts.corpora.corpus_record import facts_of


def label_names(dataset: datasets.Dataset) -> list[str]:
    """The ClassLabel's names, in id order: the model's id2label."""
    return list(dataset.features["label"].names)


def group_columns(dataset: datasets.Dataset, record: dict | None) -> tuple[str, ...]:
    """Columns the test metrics are broken down by: the corpus's breakdown fields (RAVDESS's
    vocal channel and intensity, CREMA-D's level), and the corpus when rows come from several."""
    facts = facts_of(record)
    columns = [c for c in facts.get("breakdown_fields", ()) if c in dataset.column_names]
    if "corpus" in dataset.column_names and len(set(dataset["corpus"])) > 1:
        columns.append("corpus")
    return tuple(columns)


def metric_groups(split: datasets.Dataset, columns: tuple[str, ...]) -> dict[str, list]:
    return {column: split[column] for column in columns}


def corpus_card_facts(
    dataset: datasets.Dataset, vocal_channel: str, test, record: dict | None
) -> dict:
    """The card's corpus facts: the recorded facts and description of what was found, the rows
    this run used when it took one vocal channel; `breakdown`: {column: values in the test
    split}."""
    columns = group_columns(dataset, record)
    breakdown = {column: sorted(set(test[column])) for column in columns}
    facts = facts_of(record) or {"name": "dataset", "title": "a prepared dataset"}
    corpus = (record or {}).get("description", "")
    if vocal_channel and vocal_channel != "all":
        corpus += f" This run used the {vocal_channel} rows: {len(dataset)} files."
    return {"dataset": facts, "corpus": corpus.strip(), "breakdown": breakdown}
