"""Training, validation and test on cached CNN outputs: the splits as clip numbers, the batches
built from the cache, and the switch of a built Trainer onto them (or one line saying why not).

The Trainer, its length-grouped sampler (the same `length` column, so the same batches), the
random crops (the same torch calls on the same rows, so the same crops) and the model are the
ones of the audio path; only the CNN's work moves out of the steps
(`training.trainer.cnn_feature_cache`).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import datasets
import numpy as np
import torch

from training.data.batch_labels import CLASS_LABELS, BatchLabels
from training.data.batching import AudioClassificationCollator, model_view, normalised_batch
from training.model.exact_forward import feature_encoder
from training.trainer.cnn_feature_cache import (
    LIVE_AUDIO,
    LIVE_LENGTHS,
    LIVE_ROWS,
    CnnFeatureCache,
    build_cache,
    frame_counts,
    pass_cached_features,
    plan_storage,
)

logger = logging.getLogger(__name__)

CACHE_FOLDER = "cnn_features"
AUGMENT_NOT_CACHED = (
    "CNN feature cache: off, it cannot augment (--augment changes every training clip at every "
    "step, so its CNN outputs cannot be computed once); the frozen CNN runs on every step"
)
SPLITS = ("train", "validation", "test")


class CachedFeaturesCollator:
    """Batches of cached CNN outputs, zero-padded to the batch's frames, with the sample-level
    attention mask the audio collator would give (the model derives its frame mask from it).
    Clips that are not cached (random crops) come as normalised audio for the step to compute."""

    def __init__(
        self,
        cache: CnnFeatureCache,
        feature_extractor,
        max_seconds: float | None = None,
        random_crop: bool = False,
        labels: BatchLabels = CLASS_LABELS,
    ):
        self.cache = cache
        self.labels_of = labels
        self.feature_extractor = feature_extractor
        # The audio collator's own crop: the same random draws for the same rows.
        self.audio_collator = AudioClassificationCollator(
            feature_extractor, max_seconds, random_crop=random_crop
        )

    def __call__(self, rows: list[dict]) -> dict[str, torch.Tensor]:
        cache = self.cache
        clips = [int(row["clip"]) for row in rows]
        lengths, live, live_rows = [], [], []
        for position, clip in enumerate(clips):
            if cache.cached[clip]:
                lengths.append(int(cache.samples[clip]))
                continue
            waveform = self.audio_collator._crop(cache.audio(clip))
            live.append(waveform)
            live_rows.append(position)
            lengths.append(len(waveform))
        lengths = np.asarray(lengths, dtype=np.int64)
        frames = frame_counts(cache.config, lengths)
        features = np.zeros((len(clips), cache.channels, int(frames.max())), dtype=np.float32)
        for position, clip in enumerate(clips):
            if cache.cached[clip]:
                features[position, :, : frames[position]] = cache.features(clip).T
        mask = np.arange(int(lengths.max()))[None, :] < lengths[:, None]
        batch = {
            "input_values": torch.from_numpy(features),
            "attention_mask": torch.from_numpy(mask.astype(np.int32)),
            "labels": self.labels_of(rows),
        }
        if live:
            audio = normalised_batch(self.feature_extractor, live)
            batch[LIVE_AUDIO] = audio["input_values"]
            batch[LIVE_ROWS] = torch.tensor(live_rows, dtype=torch.long)
            batch[LIVE_LENGTHS] = torch.tensor([len(w) for w in live], dtype=torch.long)
        return batch


def clip_view(
    split: datasets.Dataset, first: int, labels: BatchLabels = CLASS_LABELS
) -> datasets.Dataset:
    """The split as clip numbers with its labels (and targets) and lengths, in its order (no
    audio read)."""
    table = {
        "clip": np.arange(first, first + len(split), dtype=np.int64),
        "label": np.asarray(split["label"], dtype=np.int64),
        "length": np.asarray(split["length"], dtype=np.int64),
        **{name: np.asarray(split[name], dtype=np.float32) for name in labels.targets},
    }
    return datasets.Dataset.from_dict(table).with_format("numpy")


def use_cnn_feature_cache(
    trainer,
    splits: datasets.DatasetDict,
    feature_extractor,
    max_train_seconds: float | None,
    bound_gb: float | None,
    cache_dir: str | None,
    memory_fraction: float | None = None,
) -> dict[str, datasets.Dataset] | None:
    """Compute the frozen CNN's outputs once and move `trainer` onto them; returns each split's
    view for evaluate/predict, or None (after one line) when the cache is over its bound or the
    model has no wav2vec2-style CNN, or the trainer's collator augments (the cache cannot).
    Training clips longer than `max_train_seconds` are randomly
    cropped every epoch, so they stay uncached and are computed at each step."""
    model = trainer.model
    if feature_encoder(model) is None:
        return None
    if getattr(trainer.data_collator, "augment", None) is not None:
        # Cached outputs are of the clean clips: training on them would drop the augmentation.
        logger.warning(AUGMENT_NOT_CACHED)
        return None
    folder = Path(cache_dir or datasets.config.HF_DATASETS_CACHE) / CACHE_FOLDER
    rate = feature_extractor.sampling_rate
    max_samples = int(max_train_seconds * rate) if max_train_seconds else None
    clips, cacheable = [], []
    names = [name for name in SPLITS if name in splits]
    for name in names:
        lengths = np.asarray(splits[name]["length"], dtype=np.int64)
        clips.append((model_view(splits[name]), lengths))
        cropped = name == "train" and max_samples is not None
        cacheable.append(~(lengths > max_samples) if cropped else np.ones(len(lengths), bool))
    cacheable = np.concatenate(cacheable)
    all_lengths = np.concatenate([lengths for _, lengths in clips])
    frames = frame_counts(model.config, all_lengths[cacheable]).sum()
    size = int(frames) * model.config.conv_dim[-1] * 4
    options = {} if memory_fraction is None else {"memory_fraction": memory_fraction}
    plan = plan_storage(size, bound_gb, folder, **options)
    if plan.place is None:
        logger.warning(plan.message)
        return None
    build_started = time.perf_counter()
    cache = build_cache(
        model,
        feature_extractor,
        clips,
        cacheable,
        plan,
        folder,
        trainer.accelerator.autocast,
        batch_size=trainer.args.per_device_eval_batch_size,
    )
    # The build's seconds belong to training's cost: the run's timing line leaves them out.
    logger.info(
        "%s: %d clips computed once; %d training clips longer than max_train_seconds are "
        "cropped at random every epoch and computed at each step; "
        "CNN feature cache built in %.1f s",
        plan.message,
        int(cacheable.sum()),
        int((~cacheable).sum()),
        time.perf_counter() - build_started,
    )
    firsts = np.cumsum([0] + [len(splits[name]) for name in names])
    labels = getattr(trainer.data_collator, "labels_of", CLASS_LABELS)
    views = {name: clip_view(splits[name], int(firsts[i]), labels) for i, name in enumerate(names)}
    pass_cached_features(model)
    trainer.feature_cache = cache
    trainer.train_dataset = views["train"]
    trainer.eval_dataset = views.get("validation")
    trainer.data_collator = CachedFeaturesCollator(
        cache, feature_extractor, max_train_seconds, random_crop=True, labels=labels
    )
    trainer.eval_data_collator = CachedFeaturesCollator(cache, feature_extractor, labels=labels)
    return views
