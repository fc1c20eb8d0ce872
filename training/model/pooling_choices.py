"""How the classifier pools the encoder's frames, in a module without torch: the training
command's options offer these (and answer --help) before the model code is imported
(training.model.model_builder builds them)."""

from __future__ import annotations

POOLING_CHOICES = ("mean", "weighted_layers")
