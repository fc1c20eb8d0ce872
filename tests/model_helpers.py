"""Tiny random audio classifiers for tests that need a model directory but no training."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from transformers import (
    Wav2Vec2Config,
    Wav2Vec2FeatureExtractor,
    Wav2Vec2ForSequenceClassification,
)

from data_scripts.corpora.ravdess.facts import EMOTIONS

TINY_ENCODER = dict(
    hidden_size=16,
    num_hidden_layers=2,
    num_attention_heads=2,
    intermediate_size=32,
    conv_dim=(32, 32, 32),
    conv_stride=(5, 4, 4),
    conv_kernel=(10, 4, 4),
    num_conv_pos_embeddings=16,
    num_conv_pos_embedding_groups=2,
    classifier_proj_size=8,
)


def tiny_emotion_config(**overrides) -> Wav2Vec2Config:
    """A few-thousand-parameter wav2vec2 classifier config with the 8 emotion names."""
    return Wav2Vec2Config(
        **{
            **TINY_ENCODER,
            "num_labels": len(EMOTIONS),
            "id2label": dict(enumerate(EMOTIONS)),
            "label2id": {name: i for i, name in enumerate(EMOTIONS)},
            **overrides,
        }
    )


def save_tiny_classifier(
    directory: Path, sampling_rate: int = 16_000, return_attention_mask: bool = False, **overrides
) -> Path:
    Wav2Vec2ForSequenceClassification(tiny_emotion_config(**overrides)).save_pretrained(directory)
    Wav2Vec2FeatureExtractor(
        sampling_rate=sampling_rate, return_attention_mask=return_attention_mask
    ).save_pretrained(directory)
    return directory


# What torch adds to a weights_only refusal: advice that would run the pickle's code.
TORCH_ADVICE = ("weights_only=False", "will likely succeed", "weights_only` set to `False")


class RunsCode:
    """Pickled, it runs `touch marker` when loaded without weights_only."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def one_clip_dataset(folder: Path) -> Path:
    """A saved RAVDESS-shaped dataset of one generated clip, as ser-evaluate reads it."""
    import datasets

    from data_scripts.common.audio_hash import audio_sha256
    from data_scripts.corpora.ravdess_corpus import FEATURES

    tone = 0.3 * np.sin(2 * np.pi * 220 * np.arange(16_000) / 16_000).astype(np.float32)
    row = {"audio": {"array": tone, "sampling_rate": 16_000}, "label": 4, "length": tone.size,
           "vocal_channel": "speech", "intensity": "normal", "statement": 1, "repetition": 1,
           "actor": 1, "speaker": "01", "corpus": "ravdess", "gender": "male",
           "file": "03-01-05-01-01-01-01.wav", "audio_sha256": audio_sha256(tone)}  # fmt: skip
    rows = {name: [row[name]] for name in FEATURES}
    datasets.Dataset.from_dict(rows, features=FEATURES).save_to_disk(str(folder))
    return folder


def save_classifier_holding_code(directory: Path, marker: Path) -> Path:
    """A tiny classifier whose only weights are a pickle that runs `touch marker` when loaded."""
    import torch

    save_tiny_classifier(directory)
    (directory / "model.safetensors").unlink()
    torch.save({"wav2vec2.masked_spec_embed": RunsCode(marker)}, directory / "pytorch_model.bin")
    return directory
