"""Building the classifier from fine-tuned checkpoints: every encoder tensor arrives intact."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from model_helpers import TINY_ENCODER
from transformers import (
    AutoConfig,
    Data2VecAudioConfig,
    Data2VecAudioModel,
    HubertConfig,
    HubertModel,
    Wav2Vec2Config,
    Wav2Vec2FeatureExtractor,
    Wav2Vec2ForCTC,
    Wav2Vec2ForPreTraining,
    Wav2Vec2Model,
    WavLMConfig,
    WavLMModel,
)

from data_scripts.corpora.ravdess.facts import EMOTIONS
from training.demo.stand_in_checkpoint import write_ctc_checkpoint
from training.model.model_builder import CheckpointError, build_classifier, build_feature_extractor

TINY_CONFIG = Path(__file__).resolve().parents[2] / "configs" / "models" / "tiny.json"


def _encoder_state(model) -> dict[str, torch.Tensor]:
    return model.base_model.state_dict()


@pytest.mark.parametrize("weights_format", ["bin", "safetensors"])
def test_every_encoder_tensor_is_copied_from_a_ctc_checkpoint(tmp_path, weights_format):
    weights = write_ctc_checkpoint(TINY_CONFIG, tmp_path, weights_format, seed=3)
    ctc = Wav2Vec2ForCTC.from_pretrained(tmp_path)
    classifier, report = build_classifier(str(weights), str(tmp_path / "config.json"))
    expected = _encoder_state(ctc)
    actual = _encoder_state(classifier)
    assert expected.keys() == actual.keys()
    for name, tensor in expected.items():
        assert torch.equal(actual[name], tensor), name
    assert sorted(report.dropped) == ["lm_head.bias", "lm_head.weight"]
    assert sorted(report.new) == [
        "classifier.bias",
        "classifier.weight",
        "projector.bias",
        "projector.weight",
    ]


def test_encoder_hidden_states_equal_the_ctc_models(tmp_path):
    weights = write_ctc_checkpoint(TINY_CONFIG, tmp_path, "safetensors", seed=1)
    ctc = Wav2Vec2ForCTC.from_pretrained(tmp_path).eval()
    classifier, _ = build_classifier(str(weights), pooling="weighted_layers")
    classifier.eval()
    audio = torch.randn(2, 16_000, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        reference = ctc(audio, output_hidden_states=True).hidden_states
        ours = classifier(audio, output_hidden_states=True).hidden_states
    assert len(reference) == len(ours) == classifier.config.num_hidden_layers + 1
    for layer, (a, b) in enumerate(zip(reference, ours, strict=True)):
        torch.testing.assert_close(b, a, msg=f"hidden state {layer}")


def test_weighted_layers_pooling_adds_layer_weights_and_disables_layerdrop(tmp_path):
    write_ctc_checkpoint(TINY_CONFIG, tmp_path)
    classifier, report = build_classifier(str(tmp_path), pooling="weighted_layers")
    assert classifier.config.use_weighted_layer_sum
    assert classifier.config.layerdrop == 0.0
    assert "layer_weights" in report.new


@pytest.mark.parametrize(
    ("config_class", "model_class"),
    [
        (Wav2Vec2Config, Wav2Vec2Model),
        (HubertConfig, HubertModel),
        (WavLMConfig, WavLMModel),
        (Data2VecAudioConfig, Data2VecAudioModel),
    ],
)
def test_new_layer_weights_start_equal_whatever_memory_held(tmp_path, config_class, model_class):
    """transformers 5.24 leaves wav2vec2's, WavLM's and data2vec's `layer_weights` as
    uninitialised memory (HuBERT's sets 1/(layers+1)); freed NaN blocks of its size make that
    visible: without the fix those three get NaN, 0 or leftovers, never exactly 1/3."""
    model_class(config_class(**TINY_ENCODER)).save_pretrained(tmp_path)
    layers = TINY_ENCODER["num_hidden_layers"] + 1
    for _ in range(3):
        poisoned = [torch.full((n,), float("nan")) for n in range(1, 65) for _ in range(4)]
        del poisoned
        classifier, report = build_classifier(str(tmp_path), pooling="weighted_layers")
        assert "layer_weights" in report.new
        assert torch.equal(classifier.layer_weights.data, torch.full((layers,), 1.0 / layers))
        for name, parameter in classifier.named_parameters():
            assert torch.isfinite(parameter).all(), name
        # The linear heads get transformers' own start: normal(0, initializer_range), zero bias.
        state, spread = classifier.state_dict(), classifier.config.initializer_range
        for name in ("projector", "classifier"):
            assert torch.equal(state[f"{name}.bias"], torch.zeros_like(state[f"{name}.bias"]))
            assert 0.75 * spread < state[f"{name}.weight"].std() < 1.33 * spread, name


def test_config_carries_emotion_names_and_problem_type(tmp_path):
    write_ctc_checkpoint(TINY_CONFIG, tmp_path)
    classifier, _ = build_classifier(str(tmp_path))
    assert classifier.config.id2label == dict(enumerate(EMOTIONS))
    assert classifier.config.label2id == {name: i for i, name in enumerate(EMOTIONS)}
    assert classifier.config.problem_type == "single_label_classification"
    classifier.save_pretrained(tmp_path / "saved")
    reloaded = AutoConfig.from_pretrained(tmp_path / "saved")
    assert reloaded.id2label[7] == "surprised"


def test_legacy_weight_norm_names_in_an_old_bin_load(tmp_path):
    """Checkpoints saved before torch parametrizations name the positional conv weight_g/_v."""
    ctc = Wav2Vec2ForCTC(AutoConfig.from_pretrained(TINY_CONFIG))
    legacy = {
        name.replace("parametrizations.weight.original0", "weight_g").replace(
            "parametrizations.weight.original1", "weight_v"
        ): tensor
        for name, tensor in ctc.state_dict().items()
    }
    assert any(name.endswith("weight_g") for name in legacy)
    torch.save(legacy, tmp_path / "pytorch_model.bin")
    classifier, _ = build_classifier(str(tmp_path / "pytorch_model.bin"), str(TINY_CONFIG))
    conv = classifier.wav2vec2.encoder.pos_conv_embed.conv.parametrizations.weight
    assert torch.equal(conv.original1, legacy["wav2vec2.encoder.pos_conv_embed.conv.weight_v"])


@pytest.mark.parametrize("source_class", [Wav2Vec2Model, Wav2Vec2ForPreTraining])
def test_bare_encoder_and_pretraining_checkpoints_load(tmp_path, source_class):
    source = source_class(AutoConfig.from_pretrained(TINY_CONFIG))
    source.save_pretrained(tmp_path)
    classifier, report = build_classifier(str(tmp_path))
    source_encoder = source if source_class is Wav2Vec2Model else source.wav2vec2
    for name, tensor in source_encoder.state_dict().items():
        assert torch.equal(classifier.wav2vec2.state_dict()[name], tensor), name
    if source_class is Wav2Vec2ForPreTraining:
        assert any(name.startswith("quantizer.") for name in report.dropped)


def test_hubert_checkpoint_builds_a_hubert_classifier(tmp_path):
    config = HubertConfig(**TINY_ENCODER)
    HubertModel(config).save_pretrained(tmp_path)
    classifier, _ = build_classifier(str(tmp_path))
    assert type(classifier).__name__ == "HubertForSequenceClassification"


def test_config_that_does_not_match_the_weights_names_the_tensors(tmp_path):
    weights = write_ctc_checkpoint(TINY_CONFIG, tmp_path / "ckpt")
    config = AutoConfig.from_pretrained(TINY_CONFIG)
    config.intermediate_size = 48
    config.save_pretrained(tmp_path / "other")
    with pytest.raises(CheckpointError) as error:
        build_classifier(str(weights), str(tmp_path / "other" / "config.json"))
    message = str(error.value)
    assert str(weights) in message
    assert "feed_forward.intermediate_dense.weight" in message
    assert "(64, 32)" in message and "(48, 32)" in message


def test_missing_weights_file_is_a_clear_error(tmp_path):
    with pytest.raises(CheckpointError, match="no such file"):
        build_classifier(str(tmp_path / "pytorch_model.bin"), str(TINY_CONFIG))


def test_lone_weights_file_without_config_asks_for_config_path(tmp_path):
    write_ctc_checkpoint(TINY_CONFIG, tmp_path, "bin")
    (tmp_path / "config.json").unlink()
    with pytest.raises(CheckpointError, match="--config_path"):
        build_classifier(str(tmp_path / "pytorch_model.bin"))


class _RunsCode:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_pickle_that_runs_code_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "code_ran"
    torch.save({"wav2vec2.masked_spec_embed": _RunsCode(marker)}, tmp_path / "evil.bin")
    with pytest.raises(CheckpointError, match="refused"):
        build_classifier(str(tmp_path / "evil.bin"), str(TINY_CONFIG))
    assert not marker.exists()


def test_partial_encoder_checkpoint_is_refused(tmp_path):
    ctc = Wav2Vec2ForCTC(AutoConfig.from_pretrained(TINY_CONFIG))
    state = {k: v for k, v in ctc.state_dict().items() if ".layers.1." not in k}
    torch.save(state, tmp_path / "pytorch_model.bin")
    with pytest.raises(CheckpointError, match="encoder tensors are missing"):
        build_classifier(str(tmp_path / "pytorch_model.bin"), str(TINY_CONFIG))


def test_feature_extractor_defaults_to_16khz_with_attention_mask(tmp_path):
    write_ctc_checkpoint(TINY_CONFIG, tmp_path)
    extractor, source = build_feature_extractor(str(tmp_path / "model.safetensors"))
    assert source == "defaults"
    assert extractor.sampling_rate == 16_000
    assert extractor.return_attention_mask
    assert extractor.do_normalize


@pytest.mark.parametrize("where", ["model_folder", "beside_weights", "beside_config_path"])
def test_feature_extractor_uses_the_checkpoints_preprocessor_config(tmp_path, where, caplog):
    """The checkpoint's own settings (here: no normalisation, padding value 0.5) win."""
    weights_dir, config_dir = tmp_path / "weights", tmp_path / "config"
    write_ctc_checkpoint(TINY_CONFIG, weights_dir)
    config_dir.mkdir()
    (config_dir / "config.json").write_bytes((weights_dir / "config.json").read_bytes())
    folder = config_dir if where == "beside_config_path" else weights_dir
    settings = Wav2Vec2FeatureExtractor(do_normalize=False, padding_value=0.5)
    settings.save_pretrained(folder)
    model_path = weights_dir if where == "model_folder" else weights_dir / "model.safetensors"
    with caplog.at_level("INFO"):
        extractor, source = build_feature_extractor(
            str(model_path), str(config_dir / "config.json")
        )
    assert source == str(folder / "preprocessor_config.json")
    assert extractor.do_normalize is False and extractor.padding_value == 0.5
    assert extractor.return_attention_mask
    assert source in caplog.text


def test_feature_extractor_defaults_are_named_in_a_warning(tmp_path, caplog):
    write_ctc_checkpoint(TINY_CONFIG, tmp_path)
    with caplog.at_level("WARNING"):
        build_feature_extractor(str(tmp_path / "model.safetensors"))
    assert "no preprocessor_config.json found" in caplog.text
    assert "default feature extractor settings" in caplog.text
