"""Frozen-encoder probing on cached pooled features: the real model's head, trained without audio.

`PooledHead` shares the classifier's own `projector`, `classifier` and `layer_weights`
parameters and computes the same logits as the full model from each clip's per-layer mean hidden
states (see training.probing.frozen_features). The Trainer, its arguments, metrics and
best-model choice are the ones of the audio path; checkpoints hold the head only (small and
fast), and the final `save_model` writes the complete stock model directory (encoder + trained
head) that `pipeline("audio-classification")` loads.
"""

from __future__ import annotations

from pathlib import Path

import datasets
import numpy as np
import torch
from torch import nn
from transformers import PreTrainedModel, Trainer
from transformers.modeling_outputs import SequenceClassifierOutput
from transformers.utils import SAFE_WEIGHTS_NAME

from training.probing.frozen_features import cached_pooled_features
from training.trainer.emotion_trainer import EmotionTrainer, with_listed_lengths

FEATURE_COLUMNS = ["hidden_states", "last_hidden_state", "label", "length"]


class PooledHead(nn.Module):
    """The classification head of a `*ForSequenceClassification` model, fed pooled features.

    transformers: logits = classifier(masked_mean_t(projector(h_t))), h_t the softmax-weighted
    sum of the hidden states (weighted layers) or the last hidden state. Here: the same weighted
    sum of each layer's mean, then projector, then classifier; equal because both are linear.
    """

    main_input_name = "hidden_states"

    def __init__(self, model: PreTrainedModel):
        super().__init__()
        self.num_labels = model.config.num_labels
        self.projector = model.projector
        self.classifier = model.classifier
        self.layer_weights = model.layer_weights if model.config.use_weighted_layer_sum else None

    def forward(
        self,
        hidden_states: torch.Tensor | None = None,
        last_hidden_state: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
    ) -> SequenceClassifierOutput:
        if self.layer_weights is not None:
            weights = nn.functional.softmax(self.layer_weights, dim=-1)
            pooled = (hidden_states * weights.view(1, -1, 1)).sum(dim=1)
        else:
            pooled = last_hidden_state
        logits = self.classifier(self.projector(pooled))
        loss = None
        if labels is not None:
            loss = nn.functional.cross_entropy(logits.view(-1, self.num_labels), labels.view(-1))
        return SequenceClassifierOutput(loss=loss, logits=logits)


def pooled_features_collator(rows: list[dict]) -> dict[str, torch.Tensor]:
    return {
        "hidden_states": torch.as_tensor(np.stack([row["hidden_states"] for row in rows])),
        "last_hidden_state": torch.as_tensor(np.stack([row["last_hidden_state"] for row in rows])),
        "labels": torch.tensor([int(row["label"]) for row in rows], dtype=torch.long),
    }


class ProbeTrainer(Trainer):
    """Checkpoints hold the head's tensors; the final save is the full classifier."""

    def __init__(self, *args, full_model: PreTrainedModel, **kwargs):
        super().__init__(*args, **kwargs)
        self.full_model = full_model

    def _get_train_sampler(self, train_dataset=None):
        return with_listed_lengths(super()._get_train_sampler(train_dataset))

    # Evaluation in dataset order, and the test predictions checked against the rows' labels.
    _get_eval_sampler = EmotionTrainer._get_eval_sampler
    predict_in_order = EmotionTrainer.predict_in_order

    def save_model(self, output_dir: str | None = None, _internal_call: bool = False) -> None:
        super().save_model(output_dir, _internal_call)
        if _internal_call or not self.args.should_save:
            return
        output_dir = Path(output_dir or self.args.output_dir)
        (output_dir / SAFE_WEIGHTS_NAME).unlink(missing_ok=True)  # the head-only file
        self.full_model.save_pretrained(output_dir)


def features_for_splits(
    features: datasets.Dataset, splits: datasets.DatasetDict
) -> dict[str, datasets.Dataset]:
    """The cached rows of each split, in the split's order (matched by file name)."""
    files = features["file"]
    position = {name: index for index, name in enumerate(files)}
    if len(position) != len(files):
        raise ValueError("the prepared data has repeated file names; cannot match cached features")
    return {
        name: features.select([position[f] for f in split["file"]], keep_in_memory=True)
        for name, split in splits.items()
    }


def feature_view(dataset: datasets.Dataset) -> datasets.Dataset:
    return dataset.with_format("numpy", columns=FEATURE_COLUMNS)


def build_probe_trainer(
    model: PreTrainedModel,
    feature_extractor,
    dataset: datasets.Dataset,
    splits: datasets.DatasetDict,
    training_args,
    cache_dir: str | None,
    compute_metrics,
    compute_loss_func=None,
) -> tuple[ProbeTrainer, dict[str, datasets.Dataset]]:
    """Pooled features of every row (cached), the head on them, and the Trainer; returns the
    trainer and each split's feature view (for evaluate/predict)."""
    with training_args.main_process_first(desc="frozen-encoder features"):
        features = cached_pooled_features(
            model,
            feature_extractor,
            dataset,
            cache_dir,
            training_args.device,
            batch_size=training_args.per_device_eval_batch_size,
        )
    views = {
        name: feature_view(part) for name, part in features_for_splits(features, splits).items()
    }
    trainer = ProbeTrainer(
        model=PooledHead(model),
        full_model=model,
        args=training_args,
        data_collator=pooled_features_collator,
        train_dataset=views["train"],
        eval_dataset=views["validation"],
        processing_class=feature_extractor,
        compute_metrics=compute_metrics,
        compute_loss_func=compute_loss_func,
    )
    return trainer, views
