"""Batch-independent forward passes on tiny random wav2vec2-family classifiers (no mocks)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from model_helpers import TINY_ENCODER
from transformers import (
    Data2VecAudioConfig,
    Data2VecAudioForSequenceClassification,
    HubertConfig,
    HubertForSequenceClassification,
    Wav2Vec2Config,
    Wav2Vec2FeatureExtractor,
    Wav2Vec2ForSequenceClassification,
    WavLMConfig,
    WavLMForSequenceClassification,
)

from training.model.exact_forward import make_batch_independent, padding_leaks

FAMILIES = {
    "wav2vec2": (Wav2Vec2Config, Wav2Vec2ForSequenceClassification),
    "hubert": (HubertConfig, HubertForSequenceClassification),
    "wavlm": (WavLMConfig, WavLMForSequenceClassification),
    "data2vec-audio": (Data2VecAudioConfig, Data2VecAudioForSequenceClassification),
}
# Lengths chosen so that padding is large and two clips share a length.
LENGTHS = (16_000, 9_000, 23_001, 5_000, 23_001, 12_345)


def _model(family: str, **overrides):
    config_class, model_class = FAMILIES[family]
    torch.manual_seed(0)
    config = config_class(
        **{**TINY_ENCODER, "num_labels": 8, "initializer_range": 0.5, **overrides}
    )
    return model_class(config)


def _clips() -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.standard_normal(n).astype(np.float32) for n in LENGTHS]


def _logits(model, clips) -> torch.Tensor:
    extractor = Wav2Vec2FeatureExtractor(return_attention_mask=True)
    inputs = extractor(
        clips, sampling_rate=16_000, padding=True, return_attention_mask=True, return_tensors="pt"
    )
    return model(**inputs).logits


@pytest.mark.parametrize(
    ("family", "overrides"),
    [
        ("wav2vec2", {"feat_extract_norm": "group"}),
        ("wav2vec2", {"feat_extract_norm": "group", "use_weighted_layer_sum": True}),
        ("wav2vec2", {"feat_extract_norm": "layer", "do_stable_layer_norm": True}),
        ("hubert", {"feat_extract_norm": "group"}),
        ("wavlm", {"feat_extract_norm": "group"}),
        ("data2vec-audio", {}),
    ],
)
def test_batched_logits_equal_one_clip_at_a_time(family, overrides):
    model = _model(family, **overrides).eval()
    clips = _clips()
    with torch.no_grad():
        alone = torch.cat([_logits(model, [clip]) for clip in clips])
        stock = _logits(model, clips)
        installed = make_batch_independent(model)
        exact = _logits(model, clips)
    torch.testing.assert_close(exact, alone, atol=1e-4, rtol=0)
    assert (installed is not None) == padding_leaks(model)
    if installed is not None:
        # The leak is real for group norm: the stock batch differs from one clip at a time.
        assert (stock - alone).abs().max() > 1e-3
        assert make_batch_independent(model) is installed  # installed once
        installed.remove()
        with torch.no_grad():
            torch.testing.assert_close(_logits(model, clips), stock)


def test_training_step_gets_gradients_through_the_per_clip_cnn():
    model = _model("wav2vec2", feat_extract_norm="group").train()
    make_batch_independent(model)
    clips = _clips()
    _logits(model, clips).logsumexp(-1).sum().backward()
    first_conv = model.wav2vec2.feature_extractor.conv_layers[0].conv.weight
    assert first_conv.grad is not None and first_conv.grad.abs().sum() > 0


def test_state_dict_and_saved_files_stay_stock(tmp_path):
    model = _model("wav2vec2", feat_extract_norm="group")
    keys = list(model.state_dict())
    make_batch_independent(model)
    assert list(model.state_dict()) == keys
    model.save_pretrained(tmp_path)
    reloaded = Wav2Vec2ForSequenceClassification.from_pretrained(tmp_path)
    assert "forward" not in vars(reloaded.wav2vec2.feature_extractor.conv_layers[0])


# Training must see what inference sees: dropout and time masking off, so that a gradient is a
# function of the clips alone and two ways of batching them can be compared number for number.
NO_NOISE = dict(
    hidden_dropout=0.0,
    activation_dropout=0.0,
    attention_dropout=0.0,
    feat_proj_dropout=0.0,
    final_dropout=0.0,
    layerdrop=0.0,
    mask_time_prob=0.0,
)


def _gradients(model, clips, labels, padded_to: int | None = None) -> dict[str, torch.Tensor]:
    """Gradients of the summed cross-entropy of `clips`, one batch; rows zero-padded to
    `padded_to` samples with the attention mask saying so."""
    model.zero_grad()
    extractor = Wav2Vec2FeatureExtractor(return_attention_mask=True)
    inputs = extractor(
        clips, sampling_rate=16_000, padding=True, return_attention_mask=True, return_tensors="pt"
    )
    if padded_to is not None:
        extra = padded_to - inputs["input_values"].shape[-1]
        inputs = {
            name: torch.nn.functional.pad(value, (0, extra)) for name, value in inputs.items()
        }
    logits = model(**inputs).logits
    torch.nn.functional.cross_entropy(logits, torch.tensor(labels), reduction="sum").backward()
    return {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}


def _assert_same_gradients(got: dict, expected: dict) -> None:
    """Equal up to float32 rounding: 1e-4 of each tensor's largest entry (measured: <= 1e-5;
    key biases, whose true gradient is 0 under softmax, get rounding noise of ~5e-7)."""
    assert got.keys() == expected.keys()
    for name, grad in expected.items():
        tolerance = 1e-6 + 1e-4 * grad.abs().max().item()
        torch.testing.assert_close(got[name], grad, rtol=0, atol=tolerance, msg=name)


def test_per_clip_gradients_equal_an_unpadded_batch_of_equal_length_clips():
    """Equal-length clips padded further (the per-clip path runs) give the gradients of the
    same clips batched without padding (stock forward): padding changes no gradient."""
    model = _model("wav2vec2", feat_extract_norm="group", **NO_NOISE).train()
    make_batch_independent(model)
    rng = np.random.default_rng(1)
    clips = [rng.standard_normal(12_000).astype(np.float32) for _ in range(4)]
    unpadded = _gradients(model, clips, [0, 3, 5, 7])
    padded = _gradients(model, clips, [0, 3, 5, 7], padded_to=20_000)
    _assert_same_gradients(padded, unpadded)
    assert unpadded["wav2vec2.feature_extractor.conv_layers.0.conv.weight"].abs().sum() > 0


def test_per_clip_gradients_of_a_mixed_batch_are_the_sum_of_each_clip_alone():
    """A batch of clips of different lengths trains the model exactly as the clips one at a
    time would (summed loss): the exact path's gradients are batch-independent too."""
    model = _model("wav2vec2", feat_extract_norm="group", **NO_NOISE).train()
    clips = _clips()
    installed = make_batch_independent(model)
    labels = [row % 8 for row in range(len(clips))]
    batched = _gradients(model, clips, labels)
    alone = [_gradients(model, [clip], [label]) for clip, label in zip(clips, labels, strict=True)]
    summed = {name: sum(g[name] for g in alone) for name in alone[0]}
    _assert_same_gradients(batched, summed)
    installed.remove()  # the stock padded batch does not: the leak reaches the gradients
    stock = _gradients(model, clips, labels)
    first = "wav2vec2.feature_extractor.conv_layers.0.conv.weight"
    leak = (stock[first] - summed[first]).abs().max() / summed[first].abs().max()
    assert leak > 1e-2
