"""Frozen-encoder probing on cached pooled features: exact logits, the same training, the cache
key, the saved model under `pipeline`, and EmoBox cross-validation end to end."""

from __future__ import annotations

import json
from pathlib import Path

import datasets
import numpy as np
import pytest
import torch
from training_helpers import predictions_table
from transformers import AutoConfig, pipeline

from data_scripts.common.audio_decoding import TARGET_SAMPLING_RATE
from data_scripts.common.audio_hash import audio_sha256
from data_scripts.corpora.corpus_record import CORPUS_FILE, RECORD_FORMAT, record_text
from data_scripts.corpora.ravdess.facts import (
    EMOBOX_TEST_ACTORS,
    file_names_for_actor,
    parse_file_name,
)
from data_scripts.corpora.ravdess.sample_archives import synthesize
from data_scripts.corpora.ravdess_corpus import FACTS, FEATURES
from training.demo.stand_in_checkpoint import write_ctc_checkpoint
from training.model.model_builder import build_classifier, build_feature_extractor
from training.probing.frozen_features import cached_pooled_features
from training.probing.probe import PooledHead, pooled_features_collator
from training.wav2vec2_classification import main

REPO = Path(__file__).resolve().parents[2]
TINY_CONFIG = REPO / "configs" / "models" / "tiny.json"
TRAIN_CONFIG = REPO / "configs" / "training" / "tiny.yaml"
# Everything that makes a training-mode encoder differ from an eval-mode one.
NO_DROPOUT = {
    "activation_dropout": 0.0,
    "attention_dropout": 0.0,
    "hidden_dropout": 0.0,
    "feat_proj_dropout": 0.0,
    "final_dropout": 0.0,
    "layerdrop": 0.0,
    "mask_time_prob": 0.0,
    "mask_feature_prob": 0.0,
}


def synthetic_ravdess(actors, seconds=(0.3, 0.5), statements=(1, 2)) -> datasets.Dataset:
    """RAVDESS-format speech rows at 16 kHz (the builder's features) of generated voices."""
    rows = {name: [] for name in FEATURES}
    for actor in actors:
        for file_name in file_names_for_actor(actor, "speech"):
            name = parse_file_name(file_name)
            if name.statement not in statements:
                continue
            audio = synthesize(file_name, seconds)
            audio = (audio.mean(axis=1) if audio.ndim == 2 else audio)[::3]  # 48 -> 16 kHz
            rows["audio"].append({"array": audio, "sampling_rate": TARGET_SAMPLING_RATE})
            rows["label"].append(name.emotion_code - 1)
            rows["length"].append(len(audio))
            for column in ("vocal_channel", "intensity", "statement", "repetition", "actor"):
                rows[column].append(getattr(name, column))
            rows["gender"].append(name.gender)
            rows["speaker"].append(f"{name.actor:02d}")
            rows["corpus"].append("ravdess")
            rows["file"].append(file_name)
            rows["audio_sha256"].append(audio_sha256(audio))
    return datasets.Dataset.from_dict(rows, features=FEATURES)


def _checkpoint(directory: Path, **overrides) -> Path:
    config = AutoConfig.from_pretrained(TINY_CONFIG)
    for key, value in overrides.items():
        setattr(config, key, value)
    config.save_pretrained(directory / "config")
    return write_ctc_checkpoint(directory / "config" / "config.json", directory, "bin", seed=0)


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Tiny models on a shared 2-core machine: two threads spin-wait more than they compute."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def clips() -> datasets.Dataset:
    return synthetic_ravdess((1, 2), seconds=(0.4, 1.2)).select(range(0, 120, 10))


@pytest.mark.parametrize(
    ("pooling", "stable_layer_norm"),
    [("weighted_layers", False), ("mean", False), ("weighted_layers", True), ("mean", True)],
)
def test_head_on_cached_means_gives_the_full_models_logits(
    clips, tmp_path, pooling, stable_layer_norm
):
    stable = {"do_stable_layer_norm": True, "feat_extract_norm": "layer"}
    weights = _checkpoint(tmp_path, **(stable if stable_layer_norm else {}))
    model, _ = build_classifier(str(weights), pooling=pooling)
    extractor, _ = build_feature_extractor(str(weights))
    if pooling == "weighted_layers":
        with torch.no_grad():  # unequal layer weights, so a wrong layer order would show
            model.layer_weights.copy_(torch.tensor([0.5, -1.0, 2.0]))
    model.eval()
    cached = cached_pooled_features(model, extractor, clips, tmp_path / "cache")
    batch = pooled_features_collator(list(cached.with_format("numpy")))
    with torch.no_grad():
        from_cache = PooledHead(model)(**batch).logits.numpy()
        full = [
            model(**extractor(row["audio"]["array"], sampling_rate=16_000, return_tensors="pt"))
            .logits[0]
            .numpy()
            for row in clips.with_format("numpy")
        ]
    np.testing.assert_allclose(from_cache, np.stack(full), atol=1e-5, rtol=0)
    assert np.ptp(from_cache, axis=0).max() > 1e-3  # the clips give different logits


def test_cache_is_reused_and_keyed_by_weights_and_audio(clips, tmp_path):
    weights = _checkpoint(tmp_path)
    model, _ = build_classifier(str(weights), pooling="weighted_layers")
    extractor, _ = build_feature_extractor(str(weights))
    few = clips.select(range(4))
    first = cached_pooled_features(model, extractor, few, tmp_path / "cache")
    assert first.computed_now == 4
    # Another head (pooling, labels) on the same encoder shares the cache.
    other_head, _ = build_classifier(str(weights), pooling="mean")
    assert cached_pooled_features(other_head, extractor, few, tmp_path / "cache").computed_now == 0
    with torch.no_grad():
        model.base_model.encoder.layers[0].feed_forward.intermediate_dense.weight.mul_(1.5)
    changed = cached_pooled_features(model, extractor, few, tmp_path / "cache")
    assert changed.computed_now == 4
    assert not np.allclose(changed["hidden_states"], first["hidden_states"])

    def louder_first_clip(row, index):
        if index == 0:
            row["audio"]["array"] = np.asarray(row["audio"]["array"]) * 1.5 + 0.01
        return row

    edited = few.map(louder_first_clip, with_indices=True)
    assert cached_pooled_features(model, extractor, edited, tmp_path / "cache").computed_now == 4


@pytest.fixture(scope="module")
def probe_setup(tmp_path_factory) -> dict:
    """Zero-dropout tiny checkpoint and a 4-actor speech dataset of short generated clips."""
    root = tmp_path_factory.mktemp("probe")
    weights = _checkpoint(root / "checkpoint", **NO_DROPOUT)
    synthetic_ravdess((1, 2, 3, 4), statements=(1,)).save_to_disk(str(root / "speech"))
    return {"root": root, "weights": weights, "dataset": root / "speech"}


def _train(setup: dict, output_dir: Path, *flags: str) -> dict:
    main(
        [
            "--train_config", str(TRAIN_CONFIG),
            "--model_path", str(setup["weights"]),
            "--dataset_dir", str(setup["dataset"]),
            "--cache_dir", str(setup["root"] / "cache"),
            "--output_dir", str(output_dir),
            "--freeze_encoder", "true", "--num_train_epochs", "2",
            "--learning_rate", "0.01", "--logging_steps", "1",
            *flags,
        ]
    )  # fmt: skip
    return {
        name: json.loads((output_dir / f"{name}_results.json").read_text())
        for name in ("eval", "test")
    }


@pytest.mark.parametrize("pooling", ["weighted_layers", "mean"])
def test_cached_and_uncached_probes_train_the_same_and_pipeline_agrees(probe_setup, pooling):
    # Batches of one: the audio path's padding would change its group-normed frames.
    common = ("--pooling", pooling, "--per_device_train_batch_size", "1")
    common += ("--per_device_eval_batch_size", "1")
    cached_dir = probe_setup["root"] / f"cached_{pooling}"
    cached = _train(probe_setup, cached_dir, *common)
    uncached = _train(
        probe_setup,
        probe_setup["root"] / f"uncached_{pooling}",
        *common,
        "--cache_frozen_features", "false",
    )  # fmt: skip
    # The two paths differ only by float rounding (batched means vs one clip's frames): over
    # 120 steps the probabilities moved by 1e-6 and the losses by 2e-7 (relative). The margins
    # below are 100x that; wrong cached features would move every clip.
    for split in ("eval", "test"):
        for name, value in uncached[split].items():
            # Losses and the probability scores (Brier, ECE) are float sums: rounding only.
            if name.endswith(("loss", "brier", "ece")):
                assert cached[split][name] == pytest.approx(value, rel=1e-4), (split, name)
            elif not name.endswith(("runtime", "per_second")):
                assert cached[split][name] == value, (split, name)
    _, cached_rows = predictions_table(cached_dir)
    _, uncached_rows = predictions_table(probe_setup["root"] / f"uncached_{pooling}")
    assert [r["file"] for r in cached_rows] == [r["file"] for r in uncached_rows]
    assert [r["predicted_emotion"] for r in cached_rows] == [
        r["predicted_emotion"] for r in uncached_rows
    ]
    probabilities = [k for k in cached_rows[0] if k.startswith("prob_")]
    gaps = [abs(float(a[k]) - float(b[k])) for a, b in zip(cached_rows, uncached_rows, strict=True)
            for k in probabilities]  # fmt: skip
    assert max(gaps) < 1e-4
    assert 0 < cached["test"]["test_uar"] < 1

    # The saved directory is the stock classifier: pipeline scores the test files as the run did.
    split = json.loads((cached_dir / "split.json").read_text())
    test_files = set(split["splits"]["test"]["files"])
    rows = datasets.load_from_disk(str(probe_setup["dataset"])).filter(
        lambda name: name in test_files, input_columns="file"
    )
    classify = pipeline("audio-classification", model=str(cached_dir), device="cpu")
    label_ids = classify.model.config.label2id
    predicted = [
        label_ids[classify(np.asarray(row["audio"]["array"], np.float32), top_k=1)[0]["label"]]
        for row in rows.with_format("numpy")
    ]
    assert len(set(predicted)) > 1  # not a constant classifier
    accuracy = float(np.mean(np.asarray(predicted) == np.asarray(rows["label"])))
    assert accuracy == pytest.approx(cached["test"]["test_accuracy"], abs=1e-9)


def test_emobox_cross_validation_probe_end_to_end(tmp_path):
    weights = _checkpoint(tmp_path / "checkpoint")
    rows = synthetic_ravdess(range(1, 25), seconds=(0.2, 0.3))
    rows.save_to_disk(str(tmp_path / "speech"))
    # Its corpus.json, as ser-prepare writes it: RAVDESS's facts hold the EmoBox folds.
    record = {"format": RECORD_FORMAT, "facts": FACTS.as_dict(), "description": ""}
    record["speakers"] = dict(sorted(zip(rows["speaker"], rows["gender"], strict=True)))
    (tmp_path / "speech" / CORPUS_FILE).write_text(record_text(record))
    output_dir = tmp_path / "cv"
    main(
        [
            "--train_config", str(TRAIN_CONFIG),
            "--model_path", str(weights),
            "--dataset_dir", str(tmp_path / "speech"),
            "--cache_dir", str(tmp_path / "cache"),
            "--output_dir", str(output_dir),
            "--freeze_encoder", "true", "--cv_folds", "emobox",
            "--num_train_epochs", "1", "--save_strategy", "no", "--eval_strategy", "no",
            "--load_best_model_at_end", "false", "--per_device_train_batch_size", "64",
            "--per_device_eval_batch_size", "256",
        ]
    )  # fmt: skip
    results = json.loads((output_dir / "cv_results.json").read_text())
    assert [fold["fold"] for fold in results["folds"]] == [1, 2, 3, 4, 5, 6]
    for fold, actors in EMOBOX_TEST_ACTORS.items():
        split = json.loads((output_dir / f"fold_{fold}" / "split.json").read_text())
        assert split["splits"]["test"]["speakers"] == [f"{a:02d}" for a in sorted(actors)]
        assert split["splits"]["test"]["count"] == 240
        assert split["protocol_check"]["comparable"] is True
    emobox = results["emobox"]
    assert emobox["comparable"] is True
    uars = [fold["test_uar"] for fold in results["folds"]]
    assert emobox["metrics_percent"]["UA"]["mean"] == pytest.approx(100 * np.mean(uars))
    accuracies = [fold["test_accuracy"] for fold in results["folds"]]
    assert emobox["metrics_percent"]["WA"]["mean"] == pytest.approx(100 * np.mean(accuracies))
    for card in ("cv_summary.md", "README.md"):
        text = (output_dir / card).read_text()
        assert "Comparable with EmoBox's RAVDESS table" in text
        assert f"| UA (uar) | {100 * np.mean(uars):.2f} ± {100 * np.std(uars):.2f} |" in text
    assert "EmoBox's fold" in (output_dir / "fold_3" / "README.md").read_text()
