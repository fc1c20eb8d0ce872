"""Prepared data for training: load the Arrow data (RAVDESS or any prepared corpus), split it,
and batch it for the model."""

from __future__ import annotations

import logging
from pathlib import Path

import datasets
import numpy as np
import torch
from transformers import Wav2Vec2FeatureExtractor

from data_scripts.common.splits import (
    corpus_split_summary,
    split_corpus,
    split_each_corpus,
)
from data_scripts.corpora.ravdess.builder import build_ravdess
from data_scripts.corpora.ravdess.facts import VOCAL_CHANNELS, parse_file_name
from data_scripts.corpora.ravdess.sources import sources_from_data_dir
from data_scripts.corpora.ravdess.splits import split_dataset, split_summary
from training.arguments import DataArguments
from training.multi_corpus import combine_corpora

logger = logging.getLogger(__name__)

# Columns the collator reads; numpy format hands each row's waveform over without copying
# it into a Python list.
MODEL_COLUMNS = ["audio", "label", "length"]
EMOBOX_ONLY = (
    "--split emobox / --cv_folds emobox: EmoBox's folds are RAVDESS's; this dataset is not"
)


def load_prepared_dataset(data_args: DataArguments) -> tuple[datasets.Dataset, list[int]]:
    """All rows of the chosen vocal channel, from a saved dataset or the (cached) builder, and
    the actors of every channel (the speaker split's universe, whichever channel is trained)."""
    if data_args.extra_dataset_dir:
        dataset = combine_corpora([data_args.dataset_dir, *data_args.extra_dataset_dir])
        return dataset, None
    if data_args.dataset_dir:
        dataset = datasets.load_from_disk(data_args.dataset_dir)
        if isinstance(dataset, datasets.DatasetDict):
            dataset = datasets.concatenate_datasets(list(dataset.values()))
        if not is_ravdess(dataset):
            if data_args.split == "emobox" or data_args.cv_folds == "emobox":
                raise ValueError(EMOBOX_ONLY)
            if data_args.vocal_channel != "all":
                raise ValueError(
                    f"--vocal_channel {data_args.vocal_channel}: {data_args.dataset_dir} is not "
                    "RAVDESS and has no vocal channels; leave the flag out"
                )
            return dataset, None
        actors = sorted(int(a) for a in np.unique(np.asarray(dataset["actor"])))
        if data_args.vocal_channel != "all":
            # In memory: a cache file must not be written into the user's saved dataset.
            dataset = dataset.filter(
                lambda channel: channel == data_args.vocal_channel,
                input_columns="vocal_channel",
                keep_in_memory=True,
            )
    else:
        dataset = build_ravdess(
            data_dir=data_args.data_dir,
            config=data_args.vocal_channel,
            cache_dir=data_args.cache_dir,
        )
        sources = sources_from_data_dir(Path(data_args.data_dir), VOCAL_CHANNELS)
        actors = sorted({parse_file_name(source.file).actor for source in sources})
    if len(dataset) == 0:
        raise ValueError(f"no {data_args.vocal_channel} recordings in the prepared data")
    return dataset, actors


EVALUATED_SPLITS = ("validation", "test")


def is_ravdess(dataset: datasets.Dataset) -> bool:
    """RAVDESS's builder writes actors and vocal channels; every other corpus has speakers."""
    return {"actor", "vocal_channel"} <= set(dataset.column_names)


def describe_split(splits: datasets.DatasetDict) -> dict:
    """split.json's content: RAVDESS's actor summary, or the corpus summary (speakers)."""
    if is_ravdess(splits["test"]):
        return split_summary(splits)
    return corpus_split_summary(splits)


def split_for_training(
    dataset: datasets.Dataset, data_args: DataArguments, actors: list[int] | None = None
) -> tuple[datasets.DatasetDict, dict]:
    """Train/validation/test splits of the chosen protocol, and their description for split.json.

    `actors`: every actor of the corpus (all channels), so the split does not depend on the
    channel trained."""
    if is_ravdess(dataset):
        splits = split_dataset(
            dataset,
            protocol=data_args.split,
            seed=data_args.split_seed,
            fold=data_args.fold,
            num_folds=data_args.num_folds,
            actors=actors,
        )
    elif data_args.split == "emobox":
        raise ValueError(EMOBOX_ONLY)
    elif "corpus" in dataset.column_names and len(set(dataset["corpus"])) > 1:
        splits = split_each_corpus(
            dataset, data_args.split, data_args.split_seed, data_args.fold, data_args.num_folds
        )
    else:
        splits = split_corpus(
            dataset,
            protocol=data_args.split,
            seed=data_args.split_seed,
            fold=data_args.fold,
            num_folds=data_args.num_folds,
        )
    # Evaluation keeps dataset order (per-file results line up with the rows). Ordering the
    # evaluated splits by length (a stable sort) makes each batch's clips alike in length, so
    # batches carry little padding: evaluation 1.13x as fast on CPU (BENCHMARKS.md).
    # In memory: an indices file must not be written into the user's prepared-data folder
    # (and datasets 5.2's `sort(keep_in_memory=True)` refuses datasets loaded from disk).
    for name in EVALUATED_SPLITS:
        if name in splits:
            order = np.argsort(np.asarray(splits[name]["length"]), kind="stable")
            splits[name] = splits[name].select(order, keep_in_memory=True)
    return splits, describe_split(splits)


def model_view(dataset: datasets.Dataset) -> datasets.Dataset:
    return dataset.with_format("numpy", columns=MODEL_COLUMNS)


class AudioClassificationCollator:
    """Normalises each utterance, pads with an attention mask, and optionally crops long clips
    and augments them (`augment`: a training.augment Augmenter; training only).

    Random crops and augmentation use torch's generator, which the Trainer seeds and DataLoader
    workers re-seed at every epoch: reproducible from the seed, different across epochs.
    """

    def __init__(
        self,
        feature_extractor: Wav2Vec2FeatureExtractor,
        max_seconds: float | None = None,
        random_crop: bool = False,
        augment=None,
    ):
        self.feature_extractor = feature_extractor
        self.random_crop = random_crop
        self.augment = augment
        rate = feature_extractor.sampling_rate
        self.max_samples = int(max_seconds * rate) if max_seconds else None

    def _crop(self, waveform: np.ndarray) -> np.ndarray:
        if not self.random_crop or self.max_samples is None or len(waveform) <= self.max_samples:
            return waveform
        start = int(torch.randint(0, len(waveform) - self.max_samples + 1, ()).item())
        return waveform[start : start + self.max_samples]

    def __call__(self, rows: list[dict]) -> dict[str, torch.Tensor]:
        waveforms = [
            self._crop(np.asarray(row["audio"]["array"], dtype=np.float32)) for row in rows
        ]
        if self.augment is not None:
            # One numpy stream per batch, seeded from torch's generator (see the class docstring);
            # crop again: a slower speed lengthens the clip.
            rng = np.random.default_rng(int(torch.randint(0, 2**62, ()).item()))
            waveforms = [self._crop(self.augment(waveform, rng)) for waveform in waveforms]
        batch = self.feature_extractor(
            waveforms,
            sampling_rate=self.feature_extractor.sampling_rate,
            padding=True,
            return_attention_mask=True,
            return_tensors="pt",
        )
        batch["labels"] = torch.tensor([int(row["label"]) for row in rows], dtype=torch.long)
        return batch
