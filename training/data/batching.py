"""Batches for the model: the columns it reads, each clip normalised on its own and padded with
an attention mask, long training clips cropped at random."""

from __future__ import annotations

import datasets
import numpy as np
import torch
from transformers import Wav2Vec2FeatureExtractor

from training.data.batch_labels import CLASS_LABELS, BatchLabels

# Columns the collator reads; numpy format hands each row's waveform over without copying
# it into a Python list.
MODEL_COLUMNS = ["audio", "label", "length"]


def model_view(dataset: datasets.Dataset, labels: BatchLabels = CLASS_LABELS) -> datasets.Dataset:
    """The columns the collator reads: audio, length and what `labels` builds the labels of."""
    columns = MODEL_COLUMNS + [c for c in labels.columns if c not in MODEL_COLUMNS]
    return dataset.with_format("numpy", columns=columns)


def normalised_batch(feature_extractor: Wav2Vec2FeatureExtractor, waveforms: list) -> dict:
    """Each clip normalised on its own, right-padded, with its attention mask (tensors)."""
    return feature_extractor(
        waveforms,
        sampling_rate=feature_extractor.sampling_rate,
        padding=True,
        return_attention_mask=True,
        return_tensors="pt",
    )


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
        labels: BatchLabels = CLASS_LABELS,
    ):
        self.feature_extractor = feature_extractor
        self.random_crop = random_crop
        self.labels_of = labels
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
        batch = normalised_batch(self.feature_extractor, waveforms)
        batch["labels"] = self.labels_of(rows)
        return batch
