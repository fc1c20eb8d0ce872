"""Stop a training run whose weights are no longer numbers, in one line, instead of finishing it.

Once a step's gradient holds a NaN (a learning rate far too high, a float16 overflow), gradient
clipping scales every gradient by it and the optimizer writes NaN into every trainable weight.
The Trainer's `logging_nan_inf_filter` then logs a finite loss in place of each NaN one (0.0
in tests/faults/test_faults_training.py), the run finishes, and the saved model predicts its first
class for every clip at probability NaN. The check runs at each log step and evaluation (the
weights that train, read once), not on every step.
"""

from __future__ import annotations

import math

from transformers import TrainerCallback

from training.model.trained_classifier import first_non_finite


class TrainingDiverged(ValueError):
    """The weights became NaN or infinite; the message says when and what to change."""


class StopWhenWeightsAreNotFinite(TrainerCallback):
    """Raises TrainingDiverged at the first log or evaluation after a weight stops being finite."""

    def _check(self, args, state, model, evaluated_loss: float | None = None) -> None:
        named = model.named_parameters() if model is not None else []
        trainable = [(n, p) for n, p in named if p.requires_grad]
        name = first_non_finite(trainable)
        if name is None and (evaluated_loss is None or math.isfinite(evaluated_loss)):
            return
        what = (
            f"the weight {name} is NaN or infinite"
            if name
            else f"the validation loss is {evaluated_loss}"
        )
        raise TrainingDiverged(
            f"training diverged by step {state.global_step} (epoch {state.epoch or 0:.2f}): "
            f"{what}, so nothing it predicts means anything. Lower --learning_rate "
            f"(this run: {args.learning_rate:g}) and keep gradient clipping on "
            f"(--max_grad_norm, this run: {args.max_grad_norm:g})"
        )

    def on_log(self, args, state, control, model=None, logs=None, **kwargs):
        self._check(args, state, model)

    def on_evaluate(self, args, state, control, model=None, metrics=None, **kwargs):
        loss = (metrics or {}).get("eval_loss")
        self._check(args, state, model, None if loss is None else float(loss))
