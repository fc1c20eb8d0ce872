"""The frozen CNN's outputs computed once per clip: training, validation and test on them give
what the audio path gives (losses, weights, probabilities), on the sample corpus, through the
training command's own trainer assembly."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch
from model_helpers import TINY_ENCODER
from pipeline_helpers import pipeline_probabilities
from training_helpers import predictions_table, read_json, run_command, train_command
from transformers import (
    Wav2Vec2Config,
    Wav2Vec2FeatureExtractor,
    Wav2Vec2ForSequenceClassification,
    set_seed,
)

from data_scripts.corpora.ravdess.facts import EMOTIONS
from training.arguments import DataArguments, parse_arguments
from training.data.loading import load_prepared_dataset, split_for_training
from training.reports.scores import logits_of
from training.trainer.cached_cnn_training import CACHE_FOLDER, use_cnn_feature_cache
from training.trainer.cnn_feature_cache import cnn_outputs, plan_storage
from training.wav2vec2_classification import _build_trainer

# Rows per split: enough for a few steps and a crop or two, little enough for a loaded CPU.
ROWS = {"train": 24, "validation": 8, "test": 8}
# The sample's clips are 1.0-1.6 s: a crop at 1.2 s cuts about half of the training clips.
MAX_TRAIN_SECONDS = 1.2
RELATIVE = 1e-5


@pytest.fixture(scope="module")
def sample_splits(sample_data_dir, train_cache):
    data_args = DataArguments(data_dir=str(sample_data_dir), cache_dir=str(train_cache))
    dataset, actors = load_prepared_dataset(data_args)
    splits, _ = split_for_training(dataset, data_args, actors)
    for name, rows in ROWS.items():
        splits[name] = splits[name].select(range(rows), keep_in_memory=True)
    return splits


def _model(seed: int = 0, **overrides) -> Wav2Vec2ForSequenceClassification:
    torch.manual_seed(seed)
    settings = {**TINY_ENCODER, "num_labels": len(EMOTIONS), "initializer_range": 0.5}
    if overrides.get("use_weighted_layer_sum"):
        settings["layerdrop"] = 0.0  # as build_classifier sets it for weighted layers
    config = Wav2Vec2Config(**{**settings, **overrides})
    model = Wav2Vec2ForSequenceClassification(config)
    if config.use_weighted_layer_sum:  # as build_classifier starts it: equal weights
        with torch.no_grad():
            model.layer_weights.fill_(1.0 / model.layer_weights.numel())
    model.freeze_feature_encoder()  # what every preset does
    return model


def _run(splits, tmp_path, cache_gb: str | None, overrides: dict, memory_fraction=None):
    """One epoch of the training command's trainer (4 clips a batch, a loss logged each step),
    then predict on the test rows: (losses, weights, test probabilities, trainer)."""
    flags = [
        "--model_path", "unused", "--dataset_dir", "unused",
        "--output_dir", str(tmp_path / "out"), "--use_cpu", "true", "--report_to", "none",
        "--per_device_train_batch_size", "4", "--per_device_eval_batch_size", "3",
        "--num_train_epochs", "1", "--learning_rate", "3e-3", "--logging_steps", "1",
        "--eval_strategy", "no", "--save_strategy", "no", "--load_best_model_at_end", "false",
        "--optim", "adamw_torch", "--disable_tqdm", "true", "--seed", "0",
        "--max_train_seconds", str(MAX_TRAIN_SECONDS), "--cache_dir", str(tmp_path / "cache"),
    ]  # fmt: skip
    if cache_gb is not None:
        flags += ["--feature_cache_gb", cache_gb]
    model_args, data_args, args = parse_arguments(flags)
    set_seed(args.seed)
    model = _model(**overrides)
    extractor = Wav2Vec2FeatureExtractor(return_attention_mask=True)
    trainer, views = _build_trainer(
        model, extractor, splits["train"], splits, model_args, data_args, args
    )
    if memory_fraction is not None:  # the same cache, placed on disk
        views = use_cnn_feature_cache(
            trainer, splits, extractor, MAX_TRAIN_SECONDS, None, data_args.cache_dir, 0.0
        )
    trainer.train()
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    weights = {k: v.detach().clone() for k, v in model.state_dict().items()}
    prediction = trainer.predict_in_order(views["test"], splits["test"]["label"])
    probabilities = torch.softmax(torch.from_numpy(logits_of(prediction.predictions)), -1)
    return losses, weights, probabilities.numpy(), trainer


ENCODERS = {
    "group norm, weighted layers": {"feat_extract_norm": "group", "use_weighted_layer_sum": True},
    "group norm, mean pooling": {"feat_extract_norm": "group"},
    "layer norm, weighted layers": {
        "feat_extract_norm": "layer",
        "do_stable_layer_norm": True,
        "conv_bias": True,
        "use_weighted_layer_sum": True,
    },
    "group norm, mean pooling, SpecAugment and LayerDrop": {
        "feat_extract_norm": "group",
        "mask_time_prob": 0.3,
        "mask_time_length": 2,
        "mask_time_min_masks": 1,
        "layerdrop": 0.5,
        "hidden_dropout": 0.1,
    },
}


@pytest.mark.parametrize("encoder", list(ENCODERS))
def test_cached_cnn_trains_and_predicts_as_the_audio_path(sample_splits, tmp_path, encoder):
    overrides = ENCODERS[encoder]
    losses, weights, probabilities, trainer = _run(sample_splits, tmp_path / "a", None, overrides)
    summary = trainer.feature_cache.summary()
    assert summary["place"] == "memory"
    assert summary["clips_computed_each_step"] > 0  # the crops really ran at step time
    assert summary["clips_cached"] + summary["clips_computed_each_step"] == sum(ROWS.values())
    plain = _run(sample_splits, tmp_path / "b", "0", overrides)
    assert plain[3].feature_cache is None  # --feature_cache_gb 0: the audio path
    assert len(losses) == 6  # 24 clips, 4 a batch
    np.testing.assert_allclose(losses, plain[0], rtol=RELATIVE)
    for name, tensor in weights.items():
        if name.endswith("attention.k_proj.bias"):
            # No gradient reaches a key bias (softmax ignores a shift shared by every key);
            # Adam scales its rounding-noise gradient to full steps in both paths alike, and
            # whatever it holds changes no output.
            continue
        difference = torch.linalg.vector_norm(tensor - plain[1][name])
        assert difference <= RELATIVE * torch.linalg.vector_norm(plain[1][name]), name
    np.testing.assert_allclose(probabilities, plain[2], rtol=RELATIVE, atol=1e-7)


def test_cache_on_disk_gives_the_same_run_and_leaves_no_file(sample_splits, tmp_path):
    overrides = ENCODERS["group norm, weighted layers"]
    on_disk = _run(sample_splits, tmp_path / "a", None, overrides, memory_fraction=0.0)
    assert on_disk[3].feature_cache.summary()["place"] == "disk"
    assert isinstance(on_disk[3].feature_cache.values, np.memmap)
    assert list((tmp_path / "a" / "cache" / CACHE_FOLDER).iterdir()) == []
    in_memory = _run(sample_splits, tmp_path / "b", None, overrides)
    np.testing.assert_array_equal(on_disk[0], in_memory[0])
    np.testing.assert_array_equal(on_disk[2], in_memory[2])


def test_over_the_bound_the_run_says_so_once_and_computes_the_cnn(sample_splits, tmp_path, caplog):
    with caplog.at_level(logging.INFO):
        _, _, probabilities, trainer = _run(
            sample_splits, tmp_path / "a", "0.000001", ENCODERS["group norm, mean pooling"]
        )
    assert trainer.feature_cache is None
    lines = [r.getMessage() for r in caplog.records if "CNN feature cache" in r.getMessage()]
    assert len(lines) == 1
    assert "over --feature_cache_gb" in lines[0] and "runs on every step" in lines[0]
    assert np.isfinite(probabilities).all()


def test_unfrozen_cnn_keeps_the_audio_path(sample_splits, tmp_path):
    model_args, data_args, args = parse_arguments(
        [
            "--model_path", "unused", "--dataset_dir", "unused", "--use_cpu", "true",
            "--output_dir", str(tmp_path), "--freeze_feature_encoder", "false",
        ]
    )  # fmt: skip
    model = _model()
    for parameter in model.wav2vec2.feature_extractor.parameters():
        parameter.requires_grad = True
    extractor = Wav2Vec2FeatureExtractor(return_attention_mask=True)
    trainer, views = _build_trainer(
        model, extractor, sample_splits["train"], sample_splits, model_args, data_args, args
    )
    assert trainer.feature_cache is None
    assert "audio" in views["train"].column_names


@pytest.mark.parametrize("norm", ["group", "layer"])
def test_a_crop_is_no_slice_of_the_whole_clips_frames(norm):
    """Why long training clips are computed at each step: even a crop that starts on a frame
    boundary (320 samples) differs from the matching frames of the whole clip, because the
    crop is normalised on its own (and, with group norm, normalised over itself in the CNN)."""
    overrides = {"feat_extract_norm": norm, "conv_bias": norm == "layer"}
    model = _model(**overrides).eval()
    extractor = Wav2Vec2FeatureExtractor(return_attention_mask=True)
    clip = np.random.default_rng(0).standard_normal(24_000).astype(np.float32)
    clip[:8_000] *= 0.1  # a quiet start: the crop's statistics differ from the clip's
    stride = int(np.prod(model.config.conv_stride))
    start, length = 25 * stride, 16_000
    whole = cnn_outputs(model, extractor, [clip])[0]
    crop = cnn_outputs(model, extractor, [clip[start : start + length]])[0]
    sliced = whole[:, start // stride : start // stride + crop.shape[-1]]
    assert (crop - sliced).abs().max() > 1e-2 * crop.abs().max()


def test_storage_plan_is_bounded_by_the_flag(tmp_path):
    assert plan_storage(2_000_000, 0.001, tmp_path).place is None
    assert plan_storage(2_000_000, 0.01, tmp_path).place == "memory"
    assert plan_storage(2_000_000, 0.01, tmp_path, memory_fraction=0.0).place == "disk"


def test_training_command_with_the_cache_saves_a_model_pipeline_agrees_with(
    checkpoint, sample_data_dir, train_cache, tmp_path
):
    """The command as users run it (frozen CNN, weighted layers, crops): the cache's size line,
    run_info's record of it, and a stock model folder whose `pipeline` answers are the table's."""
    output_dir = tmp_path / "model"
    result = run_command(
        train_command(
            checkpoint, output_dir,
            "--data_dir", str(sample_data_dir), "--cache_dir", str(train_cache),
            "--vocal_channel", "speech", "--num_train_epochs", "1",
            "--freeze_feature_encoder", "true", "--pooling", "weighted_layers",
            "--max_train_seconds", str(MAX_TRAIN_SECONDS),
        )
    )  # fmt: skip
    lines = [line for line in result.stderr.splitlines() if "CNN feature cache" in line]
    assert len(lines) == 1 and "GB float32 in memory" in lines[0], lines
    cache = read_json(output_dir / "run_info.json")["cnn_feature_cache"]
    assert cache["place"] == "memory" and cache["clips_computed_each_step"] > 0
    assert not (output_dir / CACHE_FOLDER).exists()
    _, rows = predictions_table(output_dir)
    paths = {path.name: path for path in sample_data_dir.rglob("*.wav")}
    files = [paths[row["file"]] for row in rows]
    reference = pipeline_probabilities(output_dir, files)
    for row, path in zip(rows, files, strict=True):
        for name in EMOTIONS:
            assert float(row[f"prob_{name}"]) == pytest.approx(reference[str(path)][name], abs=1e-4)
