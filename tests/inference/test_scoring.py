"""The PyTorch scorer's CPU speed-ups (the CNN one clip at a time, the cached weight norm)
change no answer: a stock model given each clip alone is the reference."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from model_helpers import save_tiny_classifier
from transformers import AutoModelForAudioClassification

from training.inference.scoring import Scorer


@pytest.fixture(scope="module")
def group_norm_model(tmp_path_factory):
    torch.manual_seed(0)
    return save_tiny_classifier(
        tmp_path_factory.mktemp("scorer") / "model",
        return_attention_mask=True,
        feat_extract_norm="group",
        use_weighted_layer_sum=True,
        initializer_range=0.5,
    )


def _alone(model_dir, clips) -> np.ndarray:
    stock = AutoModelForAudioClassification.from_pretrained(model_dir).eval()
    rows = []
    with torch.inference_mode():
        for clip in clips:
            values = torch.from_numpy((clip - clip.mean()) / np.sqrt(clip.var() + 1e-7))
            rows.append(torch.softmax(stock(values[None]).logits, -1)[0].numpy())
    return np.stack(rows)


@pytest.mark.parametrize("lengths", [(12_000,) * 5, (12_000, 7_001, 12_000, 3_000)])
def test_cpu_scorer_equals_the_stock_model_on_each_clip_alone(group_norm_model, lengths):
    rng = np.random.default_rng(1)
    clips = [rng.standard_normal(n).astype(np.float32) for n in lengths]
    scorer = Scorer(group_norm_model, "cpu", "float32")
    got = scorer.probabilities(clips)
    expected = _alone(group_norm_model, clips)
    # Different clips get different answers (the comparison can fail) ...
    assert np.abs(expected - expected[0]).max() > 1e-2
    # ... and each equals the clip alone, equal-length batch or padded.
    np.testing.assert_allclose(got, expected, atol=1e-6)
