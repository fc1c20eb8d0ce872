"""Cross-validation's folds: k speaker-independent folds, one per speaker, or a corpus's own
folds (RAVDESS's EmoBox folds, from its corpus.json)."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from data_scripts.corpora.corpus_record import facts_of, load_saved_corpus
from training.data.loading import load_prepared_dataset
from training.data.protocol import corpus_protocol

if TYPE_CHECKING:
    from training.arguments import DataArguments


def cross_validation_folds(data_args: DataArguments) -> list[tuple[int, DataArguments]]:
    """(fold number, data arguments) of each fold: our 0..k-1 by speaker, (`loso`) one per
    speaker: speaker k (sorted) tests, the next one validates, or the corpus's own folds."""
    if data_args.cv_folds == "loso":
        return _leave_one_speaker_out(data_args)
    protocol = corpus_protocol(data_args)
    if protocol:
        if data_args.extra_dataset_dir:
            raise ValueError(f"--cv_folds {protocol} is for one corpus, not several")
        _, record = load_prepared_dataset(data_args)
        entry = facts_of(record)["protocols"][protocol]
        return [
            (int(fold), dataclasses.replace(data_args, split=protocol, fold=int(fold)))
            for fold in sorted(entry["folds"], key=int)
        ]
    return [
        (
            fold,
            dataclasses.replace(data_args, split="kfold", fold=fold, num_folds=data_args.cv_folds),
        )
        for fold in range(data_args.cv_folds)
    ]


def _leave_one_speaker_out(data_args: DataArguments) -> list[tuple[int, DataArguments]]:
    """One fold per speaker of the corpus (all of its speakers, whichever channel is trained)."""
    if data_args.extra_dataset_dir:
        raise ValueError(
            "--cv_folds loso is for one corpus; with several --dataset_dir use --cv_folds N"
        )
    dataset, record = load_prepared_dataset(data_args)
    speakers = sorted(
        ((record or {}).get("speakers") or {})
        or {speaker for speaker in dataset["speaker"] if speaker}
    )
    if len(speakers) < 2:
        raise ValueError(
            f"--cv_folds loso: {data_args.dataset_dir or data_args.data_dir} has {len(speakers)} "
            "known speaker(s); leaving one speaker out needs at least two (use --split random "
            "for none)"
        )
    return [
        (fold, dataclasses.replace(data_args, split="loso", fold=fold))
        for fold in range(len(speakers))
    ]


def corpus_facts(data_args: DataArguments) -> list[dict]:
    """The recorded facts of each corpus trained on (for the cross-validation card)."""
    if not data_args.dataset_dir:
        _, record = load_prepared_dataset(data_args)
        return [facts_of(record)]
    return [
        facts_of(load_saved_corpus(directory)[1]) or {"title": str(directory)}
        for directory in [data_args.dataset_dir, *(data_args.extra_dataset_dir or [])]
    ]
