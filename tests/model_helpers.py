"""Tiny random audio classifiers for tests that need a model directory but no training."""

from __future__ import annotations

from pathlib import Path

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
