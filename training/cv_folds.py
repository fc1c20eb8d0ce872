"""Cross-validation's folds: EmoBox's six, k speaker-independent folds, or one per speaker."""

from __future__ import annotations

import dataclasses

import datasets

from data_scripts.corpora.builder import recorded_corpus_facts
from data_scripts.corpora.ravdess.facts import EMOBOX_TEST_ACTORS
from training.arguments import DataArguments
from training.data import is_ravdess, load_prepared_dataset


def cross_validation_folds(data_args: DataArguments) -> list[tuple[int, DataArguments]]:
    """(fold number, data arguments) of each fold: EmoBox's 1-6, our 0..k-1 by speaker, or
    (`loso`) one per speaker: speaker k (sorted) tests, the next one validates."""
    if data_args.cv_folds == "emobox":
        return [
            (fold, dataclasses.replace(data_args, split="emobox", fold=fold))
            for fold in EMOBOX_TEST_ACTORS
        ]
    if data_args.cv_folds == "loso":
        return _leave_one_speaker_out(data_args)
    return [
        (
            fold,
            dataclasses.replace(data_args, split="kfold", fold=fold, num_folds=data_args.cv_folds),
        )
        for fold in range(data_args.cv_folds)
    ]


def _leave_one_speaker_out(data_args: DataArguments) -> list[tuple[int, DataArguments]]:
    """One fold per speaker of the dataset; RAVDESS's are k-fold with one actor per fold."""
    if data_args.extra_dataset_dir:
        raise ValueError(
            "--cv_folds loso is for one corpus; with several --dataset_dir use --cv_folds N"
        )
    dataset, actors = load_prepared_dataset(data_args)
    if actors is not None:
        return [
            (fold, dataclasses.replace(data_args, split="kfold", fold=fold, num_folds=len(actors)))
            for fold in range(len(actors))
        ]
    speakers = sorted({speaker for speaker in dataset["speaker"] if speaker})
    if len(speakers) < 2:
        raise ValueError(
            f"--cv_folds loso: {data_args.dataset_dir} has {len(speakers)} known speaker(s); "
            "leaving one speaker out needs at least two (use --split random for none)"
        )
    return [
        (fold, dataclasses.replace(data_args, split="loso", fold=fold))
        for fold in range(len(speakers))
    ]


def corpus_facts(data_args: DataArguments) -> list[dict] | None:
    """The recorded facts of each corpus trained on (for the cross-validation card), or None
    for RAVDESS."""
    if not data_args.dataset_dir:
        return None
    facts = []
    for directory in [data_args.dataset_dir, *(data_args.extra_dataset_dir or [])]:
        dataset = datasets.load_from_disk(directory)
        if isinstance(dataset, datasets.DatasetDict):
            dataset = next(iter(dataset.values()))
        if not is_ravdess(dataset):
            facts.append(recorded_corpus_facts(dataset) or {"title": str(directory)})
        elif len(facts) or data_args.extra_dataset_dir:
            facts.append({"name": "ravdess", "title": "RAVDESS", "license": "CC BY-NC-SA 4.0"})
    return facts or None
