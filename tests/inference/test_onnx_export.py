"""model.onnx answers like the PyTorch model across the family (tiny random models): wav2vec2 with
group and layer norm, weighted-layer and mean pooling, HuBERT, WavLM, and a 30 s input."""

from __future__ import annotations

import logging
import subprocess
import sys
from collections import Counter

import numpy as np
import onnx
import pytest
import torch
from model_helpers import TINY_ENCODER, tiny_emotion_config
from training_helpers import REPO, run_env
from transformers import AutoConfig, AutoModelForAudioClassification, Wav2Vec2FeatureExtractor

from data_scripts.corpora.ravdess.facts import EMOTIONS
from training.inference.export_check import generated_clips
from training.inference.onnx_export import (
    export_onnx,
    onnx_session,
    quantize_int8,
    session_probabilities,
)

RATE = 16_000
LABELS = {"num_labels": len(EMOTIONS), "id2label": dict(enumerate(EMOTIONS))}
MODELS = {
    "wav2vec2-group-weighted": lambda: tiny_emotion_config(use_weighted_layer_sum=True),
    "wav2vec2-layer-mean": lambda: tiny_emotion_config(
        feat_extract_norm="layer", do_stable_layer_norm=True
    ),
    "hubert": lambda: AutoConfig.for_model("hubert", **TINY_ENCODER, **LABELS),
    "wavlm": lambda: AutoConfig.for_model("wavlm", **TINY_ENCODER, **LABELS),
}


def _model(name: str):
    torch.manual_seed(0)
    model = AutoModelForAudioClassification.from_config(MODELS[name]()).eval()
    # Random heads give near-uniform answers; a larger classifier makes the labels mean something.
    with torch.no_grad():
        model.classifier.weight.mul_(50)
    return model


@pytest.fixture(scope="module")
def extractor():
    return Wav2Vec2FeatureExtractor(sampling_rate=RATE)


@pytest.fixture(scope="module")
def group_norm_export(tmp_path_factory):
    model = _model("wav2vec2-group-weighted")
    path = export_onnx(model, tmp_path_factory.mktemp("onnx") / "model.onnx", RATE)
    return model, path


def torch_probabilities(model, feature_extractor, clip: np.ndarray) -> np.ndarray:
    """The PyTorch model's probabilities for one clip (no padding, like pipeline): the
    reference the ONNX file must match."""
    inputs = feature_extractor(
        clip, sampling_rate=feature_extractor.sampling_rate, return_tensors="pt"
    )
    with torch.inference_mode():
        logits = model(input_values=inputs["input_values"].float()).logits
    return torch.softmax(logits.double(), dim=-1)[0].numpy()


def _assert_same(model, session, extractor, clips):
    for clip in clips:
        expected = torch_probabilities(model, extractor, clip)
        got = session_probabilities(session, extractor, clip)
        assert np.argmax(got) == np.argmax(expected)
        assert np.abs(got - expected).max() < 1e-4, len(clip)


@pytest.mark.parametrize("name", [n for n in MODELS if n != "wav2vec2-group-weighted"])
def test_onnx_matches_pytorch_one_clip_at_a_time(name, extractor, tmp_path):
    model = _model(name)
    session = onnx_session(export_onnx(model, tmp_path / "model.onnx", RATE))
    _assert_same(model, session, extractor, generated_clips(RATE, seconds=(0.4, 1.3, 2.9)))


def test_group_norm_onnx_matches_pytorch_also_on_30_seconds(group_norm_export, extractor):
    model, path = group_norm_export
    session = onnx_session(path)
    _assert_same(model, session, extractor, generated_clips(RATE, seconds=(0.4, 1.3, 30.0)))
    # Group norm lowers to InstanceNormalization (one group per channel), on the first conv.
    ops = Counter(node.op_type for node in onnx.load(str(path)).graph.node)
    assert ops["InstanceNormalization"] == 1 and ops["Conv"] >= 3


def test_equal_length_batch_gives_each_clip_its_own_answer(group_norm_export, extractor):
    model, path = group_norm_export
    session = onnx_session(path)
    clips = [c[:RATE] for c in generated_clips(RATE, seconds=(1.1, 1.5, 2.0))]
    values = extractor(clips, sampling_rate=RATE, return_tensors="np")["input_values"]
    (logits,) = session.run(["logits"], {"input_values": values.astype(np.float32)})
    for row, clip in zip(logits, clips, strict=True):
        one = extractor(clip, sampling_rate=RATE, return_tensors="np")["input_values"]
        (alone,) = session.run(["logits"], {"input_values": one.astype(np.float32)})
        assert np.abs(row - alone[0]).max() < 1e-5


def test_int8_quantizes_the_matrices_and_keeps_the_convolutions_float(
    group_norm_export, extractor, tmp_path
):
    model, path = group_norm_export
    int8 = quantize_int8(path, tmp_path / "model.int8.onnx")
    ops = Counter(node.op_type for node in onnx.load(str(int8)).graph.node)
    assert ops["MatMulInteger"] >= 4 and ops["DynamicQuantizeLinear"] >= 1
    assert ops["ConvInteger"] == 0 and ops["Conv"] >= 3  # the first reads raw audio: float
    session = onnx_session(int8)
    for clip in generated_clips(RATE, seconds=(0.8, 2.0)):
        got = session_probabilities(session, extractor, clip)
        assert got.sum() == pytest.approx(1.0) and np.all(np.isfinite(got))


def test_onnx_without_the_extra_names_it(tmp_path):
    """With onnxruntime missing, --onnx stops before any work and says what to install."""
    script = (
        "import sys; sys.modules['onnxruntime'] = None\n"
        "from training.inference.export import main\n"
        f"main([{str(tmp_path / 'nothing')!r}, {str(tmp_path / 'dest')!r}, '--onnx'])"
    )
    (tmp_path / "nothing").mkdir()
    (tmp_path / "nothing" / "config.json").write_text("{}")
    (tmp_path / "nothing" / "model.safetensors").write_text("")
    (tmp_path / "nothing" / "preprocessor_config.json").write_text("{}")
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, env=run_env(), capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert result.returncode == 1
    assert "error: --onnx needs onnxruntime: pip install '.[onnx]'" in result.stderr
    assert not (tmp_path / "dest").exists()


def test_onnx_that_answers_differently_is_not_kept(extractor, tmp_path, monkeypatch, caplog):
    """The parity refusal: with the tolerance at zero the real export's float rounding (about
    1e-7) is a mismatch for every exporter, so each is tried and then the refusal path runs:
    no model.onnx, the largest difference named."""
    from training.inference import export, export_check

    caplog.set_level(logging.INFO)
    staging = tmp_path / "staging"
    _model("wav2vec2-group-weighted").save_pretrained(staging)
    extractor.save_pretrained(staging)
    clips = generated_clips(RATE, seconds=(0.4, 1.3))
    monkeypatch.setattr(export_check, "TOLERANCE", 0.0)
    with pytest.raises(ValueError, match=r"no ONNX file written") as refusal:
        export._onnx_forms(staging, clips, ["a.wav", "b.wav"], "int8")
    assert not (staging / "model.onnx").exists() and not (staging / "model.int8.onnx").exists()
    assert "e-0" in str(refusal.value)  # the largest difference, printed as a number
    tried = [r.getMessage().split(" exporter")[0] for r in caplog.records if "not kept" in r.msg]
    assert tried == ["ONNX via the torchscript", "ONNX via the dynamo"]


def test_the_dynamo_exporter_answers_like_pytorch_and_is_recorded(extractor, tmp_path, monkeypatch):
    """The fallback exporter (what a later torch without the TorchScript-based one would use):
    its graph passes the same parity check, and the result says which exporter made the file."""
    from training.inference import export, onnx_export

    staging = tmp_path / "staging"
    _model("wav2vec2-group-weighted").save_pretrained(staging)
    extractor.save_pretrained(staging)
    clips = generated_clips(RATE, seconds=(0.4, 1.3, 3.0))
    monkeypatch.setattr(onnx_export, "EXPORTERS", ("dynamo",))
    result = export._onnx_forms(staging, clips, ["a.wav", "b.wav", "c.wav"], None)
    assert result["onnx"]["exporter"] == "dynamo"
    assert (staging / "model.onnx").is_file()
    monkeypatch.undo()
    assert (
        export._onnx_forms(staging, clips, ["a.wav", "b.wav", "c.wav"], None)["onnx"]["exporter"]
        == "torchscript"
    )


def test_export_prints_no_tracer_warnings_or_exporter_chatter(tmp_path, caplog, recwarn, capfd):
    """The tracer warns at every Python-level branch on a tensor (a dozen for wav2vec2), and
    the export command logs at INFO: without quieting them a user sees those lines on every
    export, though the parity check is what decides whether the graph is right."""
    caplog.set_level(logging.INFO)
    export_onnx(_model("wav2vec2-group-weighted"), tmp_path / "model.onnx", RATE)
    assert [str(w.message)[:80] for w in recwarn] == []
    assert [
        r.getMessage()[:80] for r in caplog.records if r.name.startswith(("torch", "onnx"))
    ] == []
    assert capfd.readouterr().err == ""
