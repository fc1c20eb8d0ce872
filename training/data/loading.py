"""Prepared data for training: load the Arrow data of any prepared corpus with its corpus.json,
and split it (batching.py batches it for the model)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import datasets
import numpy as np

from data_scripts.common.splits import split_corpus, split_each_corpus, split_summary
from data_scripts.corpora.builder import build_corpus
from data_scripts.corpora.corpus_record import corpus_record, facts_of, read_corpus_record
from data_scripts.corpora.registry import DOWNLOAD_CORPUS, scan_corpus
from training.data.multi_corpus import combine_corpora
from training.data.protocol import corpus_protocol

if TYPE_CHECKING:
    from training.arguments import DataArguments

logger = logging.getLogger(__name__)

# The column `--vocal_channel` selects rows by, where a corpus has it.
CHANNEL_COLUMN = "vocal_channel"


def load_prepared_dataset(data_args: DataArguments) -> tuple[datasets.Dataset, dict | None]:
    """All rows of the chosen vocal channel and the corpus's record (corpus.json: its facts and
    every speaker, the speaker split's universe whichever channel is trained), from a saved
    dataset, several of them, or the download folder (built or reused from the cache)."""
    if data_args.extra_dataset_dir:
        return combine_corpora([data_args.dataset_dir, *data_args.extra_dataset_dir])
    if data_args.dataset_dir:
        dataset = datasets.load_from_disk(data_args.dataset_dir)
        if isinstance(dataset, datasets.DatasetDict):
            dataset = datasets.concatenate_datasets(list(dataset.values()))
        record = read_corpus_record(data_args.dataset_dir, dataset)
    else:
        # Only the chosen channel is built (the rows, and their order, of a build of it alone).
        facts = scan_corpus(DOWNLOAD_CORPUS, data_args.data_dir).facts
        channel = resolve_channel({"facts": facts.as_dict()}, data_args)
        scan = scan_corpus(DOWNLOAD_CORPUS, data_args.data_dir, config=channel)
        dataset = build_corpus(scan, data_args.cache_dir, num_proc=None)
        record = corpus_record(scan)
    return select_channel(dataset, record, data_args), record


def resolve_channel(record: dict | None, data_args: DataArguments) -> str:
    """--vocal_channel, or by default the rows the corpus's protocol is defined on (EmoBox's
    folds: speech), else all; ValueError for a protocol the corpus does not have."""
    protocol = facts_of(record).get("protocols", {}).get(corpus_protocol(data_args) or "")
    if protocol is None and corpus_protocol(data_args):
        known = ", ".join(facts_of(record).get("protocols", {})) or "none"
        raise ValueError(
            f"--split/--cv_folds {corpus_protocol(data_args)}: not a protocol of this corpus "
            f"(its own: {known}; every corpus has speaker, kfold, loso, random)"
        )
    if data_args.vocal_channel is None:
        data_args.vocal_channel = protocol.get("value", "all") if protocol else "all"
    return data_args.vocal_channel


def select_channel(
    dataset: datasets.Dataset, record: dict | None, data_args: DataArguments
) -> datasets.Dataset:
    """The rows of --vocal_channel (default: those the corpus's protocol is defined on)."""
    if resolve_channel(record, data_args) == "all":
        return dataset
    if CHANNEL_COLUMN not in dataset.column_names:
        raise ValueError(
            f"--vocal_channel {data_args.vocal_channel}: {data_args.dataset_dir} has no vocal "
            "channels; leave the flag out"
        )
    # In memory: a cache file must not be written into the user's saved dataset.
    dataset = dataset.filter(
        lambda channel: channel == data_args.vocal_channel,
        input_columns=CHANNEL_COLUMN,
        keep_in_memory=True,
    )
    if len(dataset) == 0:
        raise ValueError(f"no {data_args.vocal_channel} recordings in the prepared data")
    return dataset


EVALUATED_SPLITS = ("validation", "test")


def split_for_training(
    dataset: datasets.Dataset, data_args: DataArguments, record: dict | None = None
) -> tuple[datasets.DatasetDict, dict]:
    """Train/validation/test splits of the chosen protocol, and their description for split.json.

    The corpus's speakers (`record`) are split, so the split does not depend on the channel
    trained."""
    protocols = facts_of(record).get("protocols") or {}
    if "corpus" in dataset.column_names and len(set(dataset["corpus"])) > 1:
        splits, parameters = split_each_corpus(
            dataset, data_args.split, data_args.split_seed, data_args.fold, data_args.num_folds
        )
    else:
        splits, parameters = split_corpus(
            dataset,
            protocol=data_args.split,
            seed=data_args.split_seed,
            fold=data_args.fold,
            num_folds=data_args.num_folds,
            speakers=(record or {}).get("speakers") or None,
            protocols=protocols,
        )
    summary = split_summary(splits, parameters, protocols)
    # Evaluation keeps dataset order (per-file results line up with the rows). Ordering the
    # evaluated splits by length (a stable sort) makes each batch's clips alike in length, so
    # batches carry little padding: evaluation 1.13x as fast on CPU (BENCHMARKS.md).
    # In memory: an indices file must not be written into the user's prepared-data folder
    # (and datasets 5.2's `sort(keep_in_memory=True)` refuses datasets loaded from disk).
    for name in EVALUATED_SPLITS:
        if name in splits:
            order = np.argsort(np.asarray(splits[name]["length"]), kind="stable")
            splits[name] = splits[name].select(order, keep_in_memory=True)
    return splits, summary


def describe_split(splits: datasets.DatasetDict, summary: dict, record: dict | None) -> dict:
    """split.json's content for `splits` made with the parameters `summary` records (after
    rows were dropped from them)."""
    parameters = {k: v for k, v in summary.items() if k not in ("splits", "protocol_check")}
    return split_summary(splits, parameters, facts_of(record).get("protocols"))
