"""The Trainer with the two things this task needs beyond the stock one."""

from __future__ import annotations

import numpy as np
from torch.utils.data import SequentialSampler
from transformers import Trainer

from training.model.exact_forward import make_batch_independent
from training.trainer.cnn_feature_cache import LIVE_AUDIO, fill_live_features


def with_listed_lengths(sampler):
    """datasets 5 gives the Trainer's length-grouped sampler a lazy `Column`, which it indexes
    once per row per epoch (an Arrow read each, seconds per epoch); a plain list, same order."""
    lengths = getattr(sampler, "lengths", None)
    if lengths is not None and not isinstance(lengths, list):
        sampler.lengths = [int(length) for length in lengths]
    return sampler


class EmotionTrainer(Trainer):
    """Evaluates with its own collator (no random crop), in dataset order, and can give the
    encoder its own learning rate (SpeechBrain's recipe: head 1e-4, encoder 1e-5).

    Training, evaluation and test run the CNN on each clip unpadded
    (`training.model.exact_forward`), so every clip's result is what the saved model gives it alone.
    """

    def __init__(self, *args, eval_data_collator=None, encoder_learning_rate=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.eval_data_collator = eval_data_collator or self.data_collator
        self.encoder_learning_rate = encoder_learning_rate
        self.batch_independence = make_batch_independent(self.model)
        # Set by `training.trainer.cached_cnn_training.use_cnn_feature_cache`: batches then carry
        # the frozen CNN's cached outputs instead of audio.
        self.feature_cache = None

    def _prepare_inputs(self, inputs):
        inputs = super()._prepare_inputs(inputs)
        if LIVE_AUDIO in inputs:  # random crops: their CNN output is computed now
            inputs = fill_live_features(self.model, inputs, self.accelerator.autocast)
        return inputs

    def floating_point_ops(self, inputs) -> int:
        # transformers counts the main input's elements; the attention mask has the audio's
        # shape, so total_flos stays what the audio path reports.
        if self.feature_cache is not None:
            inputs = {**inputs, "input_values": inputs["attention_mask"]}
        return super().floating_point_ops(inputs)

    def _get_eval_sampler(self, eval_dataset):
        # transformers applies train_sampling_strategy="group_by_length" to evaluation too and
        # shuffles its rows; per-file results must come back in dataset order.
        if eval_dataset is None or self.args.world_size > 1:
            return None  # accelerate shards in order and gathers back in order
        return SequentialSampler(eval_dataset)

    def predict_in_order(self, test_dataset, labels, metric_key_prefix: str = "test"):
        """`predict`, checking that its rows are the dataset's rows in order (by label)."""
        prediction = self.predict(test_dataset, metric_key_prefix=metric_key_prefix)
        returned = np.asarray(prediction.label_ids)
        if returned.shape != (len(labels),) or not np.array_equal(returned, np.asarray(labels)):
            raise RuntimeError(
                f"{metric_key_prefix}: the Trainer returned {returned.shape[0]} predictions whose "
                "labels are not the dataset's labels in order; per-file results would be "
                "mismatched (a transformers change in evaluation sampling?)"
            )
        return prediction

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
