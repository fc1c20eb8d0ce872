"""Batches the model sees, and the optimizer's learning rates per part of the model."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from model_helpers import tiny_emotion_config
from transformers import TrainingArguments, Wav2Vec2FeatureExtractor

from training.data.batching import AudioClassificationCollator
from training.trainer.emotion_trainer import EmotionTrainer

RATE = 16_000


def _rows(lengths: list[int]) -> list[dict]:
    rng = np.random.default_rng(0)
    return [
        {
            "audio": {"array": (3 + 2 * rng.standard_normal(n)).astype(np.float32)},
            "label": i % 8,
        }
        for i, n in enumerate(lengths)
    ]


def _extractor() -> Wav2Vec2FeatureExtractor:
    return Wav2Vec2FeatureExtractor(sampling_rate=RATE, return_attention_mask=True)


def test_batch_is_normalised_per_utterance_and_masks_the_padding():
    lengths = [8000, 16000, 12000]
    batch = AudioClassificationCollator(_extractor())(_rows(lengths))
    assert batch["input_values"].shape == (3, 16000)
    assert batch["attention_mask"].sum(dim=1).tolist() == lengths
    assert batch["labels"].tolist() == [0, 1, 2]
    for row, n in enumerate(lengths):
        real = batch["input_values"][row, :n]
        assert float(real.mean()) == pytest.approx(0.0, abs=1e-3)
        assert float(real.std()) == pytest.approx(1.0, abs=1e-2)
        assert torch.all(batch["input_values"][row, n:] == 0)


def test_training_crop_is_a_random_window_of_the_clip():
    rows = _rows([48000])
    original = rows[0]["audio"]["array"]
    collate = AudioClassificationCollator(_extractor(), max_seconds=1.0, random_crop=True)
    torch.manual_seed(0)
    starts = set()
    for _ in range(5):
        waveform = collate._crop(original)
        assert len(waveform) == RATE
        start = int(np.flatnonzero(original == waveform[0])[0])
        np.testing.assert_array_equal(waveform, original[start : start + RATE])
        starts.add(start)
    assert len(starts) > 1
    assert collate(rows)["input_values"].shape == (1, RATE)


def test_evaluation_collator_keeps_whole_clips():
    batch = AudioClassificationCollator(_extractor(), max_seconds=1.0)(_rows([48000]))
    assert batch["input_values"].shape == (1, 48000)


def test_encoder_learning_rate_applies_to_encoder_parameters_only(tmp_path):
    from transformers import Wav2Vec2ForSequenceClassification

    model = Wav2Vec2ForSequenceClassification(tiny_emotion_config())
    args = TrainingArguments(
        output_dir=str(tmp_path), learning_rate=1e-3, use_cpu=True, report_to="none"
    )
    trainer = EmotionTrainer(model=model, args=args, encoder_learning_rate=1e-5)
    optimizer = trainer.create_optimizer()
    encoder = {id(p) for p in model.wav2vec2.parameters()}
    head = {id(p) for name, p in model.named_parameters() if not name.startswith("wav2vec2.")}
    for group in optimizer.param_groups:
        ids = {id(p) for p in group["params"]}
        assert ids <= encoder or ids <= head
        assert group["lr"] == (1e-5 if ids <= encoder else 1e-3)
    grouped = {id(p) for group in optimizer.param_groups for p in group["params"]}
    assert grouped == {id(p) for p in model.parameters() if p.requires_grad}
