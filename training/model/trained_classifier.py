"""Load a saved emotion classifier, refusing a folder that holds something else.

`AutoModelForAudioClassification.from_pretrained` on a speech-recognition checkpoint (the
fine-tuned CTC model a user starts from) quietly adds a random head: predict then printed
`LABEL_1 0.502` for every file. Every command that reads a trained model (predict, evaluate,
export) loads it here and gets one line naming the folder instead; so does a model whose
weights are NaN (saved by a run that diverged), which predict used to fail file by file, a
pickle that is not plain tensors, and a weights file cut short (each was a traceback, or torch's
advice to disable `weights_only`).
"""

from __future__ import annotations

import pickle
from collections.abc import Iterable
from pathlib import Path

import torch
from safetensors import SafetensorError
from transformers import AutoModelForAudioClassification, PreTrainedModel
from transformers.utils import logging as hf_logging

from training.model.checkpoint_refusal import damaged_message, refusal_message, weights_file
from training.model.remote_code import refuse_remote_code

MAX_NAMED = 4


class NotAClassifierError(ValueError):
    """The folder's weights lack tensors of a classifier, hold NaN, are a pickle that is not plain
    tensors, or do not parse: not a usable one."""


def first_non_finite(named_parameters: Iterable[tuple[str, torch.Tensor]]) -> str | None:
    """The name of the first tensor holding NaN or infinity, or None; one device sync in all
    (training checks at every log step, and on a GPU a sync per tensor would add up)."""
    named = list(named_parameters)
    if not named:
        return None
    finite = torch.stack([torch.isfinite(tensor).all() for _, tensor in named]).cpu()
    return None if bool(finite.all()) else named[int(torch.argmin(finite.int()))][0]


def load_trained_classifier(model_dir: str | Path, **kwargs) -> PreTrainedModel:
    """The `*ForSequenceClassification` model saved in `model_dir`, every tensor from its file;
    a folder asking to run its own code is refused first (training.model.remote_code)."""
    refuse_remote_code(model_dir)
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # its "newly initialized" table; the refusal replaces it
    try:
        model, info = AutoModelForAudioClassification.from_pretrained(
            model_dir, output_loading_info=True, trust_remote_code=False, **kwargs
        )
    except pickle.UnpicklingError as error:
        raise NotAClassifierError(refusal_message(weights_file(model_dir), error)) from error
    except SafetensorError as error:
        where = weights_file(model_dir, "model.safetensors")
        raise NotAClassifierError(damaged_message(where, error)) from error
    finally:
        hf_logging.set_verbosity(verbosity)
    missing = sorted(info["missing_keys"])
    if missing:
        named = ", ".join(missing[:MAX_NAMED]) + (" ..." if len(missing) > MAX_NAMED else "")
        raise NotAClassifierError(
            f"{model_dir}: not a trained emotion classifier: its weights lack {len(missing)} "
            f"tensors ({named}), which would start random. Give the --output_dir of a "
            "training run (training/wav2vec2_classification.py) or an exported model folder"
        )
    damaged = first_non_finite(model.named_parameters())
    if damaged is not None:
        raise NotAClassifierError(
            f"{model_dir}: the weight {damaged} holds NaN or infinite values: the model was saved "
            "from a training run that diverged; train it again with a lower --learning_rate"
        )
    return model
