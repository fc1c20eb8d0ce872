"""The Trainer with the two things this task needs beyond the stock one, and the metrics glue."""

from __future__ import annotations

from pathlib import Path

import evaluate
import numpy as np
from transformers import EvalPrediction, Trainer

METRIC_MODULE = str(Path(__file__).with_name("metrics") / "emotion_metrics.py")


def with_listed_lengths(sampler):
    """datasets 5 gives the Trainer's length-grouped sampler a lazy `Column`, which it indexes
    once per row per epoch (an Arrow read each, seconds per epoch); a plain list, same order."""
    lengths = getattr(sampler, "lengths", None)
    if lengths is not None and not isinstance(lengths, list):
        sampler.lengths = [int(length) for length in lengths]
    return sampler


class EmotionTrainer(Trainer):
    """Evaluates with its own collator (no random crop) and can give the encoder its own
    learning rate (SpeechBrain's recipe: head 1e-4, encoder 1e-5)."""

    def __init__(self, *args, eval_data_collator=None, encoder_learning_rate=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.eval_data_collator = eval_data_collator or self.data_collator
        self.encoder_learning_rate = encoder_learning_rate

    def _with_eval_collator(self, make_loader, dataset):
        train_collator, self.data_collator = self.data_collator, self.eval_data_collator
        try:
            return make_loader(dataset)
        finally:
            self.data_collator = train_collator

    def _get_train_sampler(self, train_dataset=None):
        return with_listed_lengths(super()._get_train_sampler(train_dataset))

    def get_eval_dataloader(self, eval_dataset=None):
        return self._with_eval_collator(super().get_eval_dataloader, eval_dataset)

    def get_test_dataloader(self, test_dataset):
        return self._with_eval_collator(super().get_test_dataloader, test_dataset)

    def create_optimizer(self, model=None):
        optimizer = super().create_optimizer(model)
        if self.encoder_learning_rate is None:
            return optimizer
        base = (self.model if model is None else model).base_model
        encoder_ids = {id(p) for p in base.parameters()}
        for group in list(optimizer.param_groups):
            encoder_params = [p for p in group["params"] if id(p) in encoder_ids]
            if not encoder_params:
                continue
            group["params"] = [p for p in group["params"] if id(p) not in encoder_ids]
            settings = {k: v for k, v in group.items() if k != "params"}
            optimizer.add_param_group(
                {**settings, "params": encoder_params, "lr": self.encoder_learning_rate}
            )
        optimizer.param_groups[:] = [g for g in optimizer.param_groups if g["params"]]
        return optimizer


def load_metric():
    """The local emotion metric module (works offline): the one definition of every score."""
    return evaluate.load(METRIC_MODULE)


def make_compute_metrics(label_names: list[str]):
    """compute_metrics for per-epoch validation: scalar metrics only (logs stay readable)."""
    metric = load_metric()

    def compute_metrics(prediction: EvalPrediction) -> dict:
        result = metric.compute(
            predictions=np.argmax(prediction.predictions, axis=-1),
            references=prediction.label_ids,
            label_names=label_names,
        )
        result.pop("confusion_matrix")
        return result

    return compute_metrics


def detailed_metrics(logits, references, label_names, groups: dict[str, list]) -> dict:
    """Overall metrics with the confusion matrix, plus metrics per value of each group column
    (e.g. vocal channel, intensity), keyed like `speech_accuracy`, `strong_uar`."""
    return load_metric().compute(
        predictions=np.argmax(logits, axis=-1),
        references=references,
        label_names=label_names,
        groups=groups,
    )
