"""Clips too short for the model's feature encoder: the one rule shared by predict and training.

A wav2vec2-family encoder turns `n` samples into `_get_feat_extract_output_lengths(n)` frames
(400 samples, 25 ms, for the standard CNN). A clip giving no frame has nothing but padding to
pool: predict reports it as failed, and training drops it from every split, counted and named.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np
import torch

if TYPE_CHECKING:  # predict imports this module and must not load datasets/pyarrow
    import datasets

logger = logging.getLogger(__name__)
MAX_FILES_LISTED = 10


def frames(model, num_samples) -> np.ndarray | None:
    """Encoder frames per clip length, or None for models without wav2vec2's length formula."""
    output_lengths = getattr(model, "_get_feat_extract_output_lengths", None)
    if output_lengths is None:
        return None
    return np.asarray(output_lengths(torch.as_tensor(np.asarray(num_samples))))


def too_short(model, num_samples: int) -> bool:
    counted = frames(model, num_samples)
    return counted is not None and int(counted) < 1


def drop_too_short(splits: datasets.DatasetDict, model) -> tuple[datasets.DatasetDict, list[str]]:
    """The splits without rows whose `length` gives the model no frame; the dropped files."""
    import datasets

    dropped: list[str] = []
    kept = {}
    for name, split in splits.items():
        counted = frames(model, split["length"])
        if counted is None or counted.min(initial=1) >= 1:
            kept[name] = split
            continue
        short = np.flatnonzero(counted < 1)
        dropped += [split[int(i)]["file"] for i in short]
        kept[name] = split.select(np.flatnonzero(counted >= 1), keep_in_memory=True)
    result = datasets.DatasetDict(kept)
    if dropped:
        listed = ", ".join(sorted(dropped)[:MAX_FILES_LISTED])
        more = (
            f" and {len(dropped) - MAX_FILES_LISTED} more"
            if len(dropped) > MAX_FILES_LISTED
            else ""
        )
        logger.warning(
            "dropped %d clips too short for the model (no encoder frame): %s%s",
            len(dropped),
            listed,
            more,
        )
    return result, sorted(dropped)
