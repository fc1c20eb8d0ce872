"""Training-time augmentation: each transform changes the audio and never the label, a run's
augmentation is reproducible from its seed and new at every epoch, validation and test batches
are never augmented, and settings that cannot work are refused in one line."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile
import torch
from audio_helpers import voiced
from model_helpers import save_tiny_classifier
from transformers import Wav2Vec2FeatureExtractor, set_seed

from training.arguments import parse_arguments
from training.augment import transforms
from training.augment.augmenter import Augmenter, AugmentSettings
from training.data.batching import AudioClassificationCollator

RATE = 16_000
TRANSFORMS = ("noise", "speed", "gain", "reverb", "telephone")
ONLY = {name: AugmentSettings(0, 0, 0, 0, 0) for name in TRANSFORMS}
for _name, _settings in ONLY.items():
    setattr(_settings, _name, 1.0)
    _settings.max_gain_db = 12.0  # loud enough to clip: a level change alone is normalised away


def rows(count: int = 4) -> list[dict]:
    return [
        {"audio": {"array": voiced(1.0 + 0.1 * i, 150 + 20 * i, i)}, "label": i % 3}
        for i in range(count)
    ]


@pytest.mark.parametrize("name", sorted(ONLY))
def test_each_transform_changes_the_samples_and_is_reproducible_from_its_seed(name):
    augment = Augmenter(ONLY[name], RATE)
    clip = voiced()
    first = augment(clip, np.random.default_rng(7))
    again = augment(clip, np.random.default_rng(7))
    other = augment(clip, np.random.default_rng(8))
    np.testing.assert_array_equal(first, again)
    if name == "speed":  # 0.9 / 1.0 / 1.1: the length says which; one of the draws must change it
        lengths = {len(augment(clip, np.random.default_rng(s))) for s in range(12)}
        assert lengths == {len(clip), round(len(clip) / 0.9), round(len(clip) / 1.1)}
    else:
        assert first.shape == clip.shape
        assert np.abs(first - clip).max() > 1e-3
        assert np.abs(first - other).max() > 1e-6 or name == "telephone"  # telephone: no draw


def test_speed_perturbation_moves_the_pitch_by_its_factor():
    clip = np.sin(2 * np.pi * 200 * np.arange(RATE) / RATE).astype(np.float32)
    for factor in (0.9, 1.1):
        faster = transforms.change_speed(clip, factor, RATE)
        spectrum = np.abs(np.fft.rfft(faster))
        peak = np.argmax(spectrum) * RATE / len(faster)
        assert peak == pytest.approx(200 * factor, abs=2)


def test_telephone_band_removes_what_a_phone_line_does_not_carry():
    t = np.arange(RATE) / RATE
    clip = sum(np.sin(2 * np.pi * f * t) for f in (100, 1000, 6000)).astype(np.float32)
    spectrum = np.abs(np.fft.rfft(transforms.telephone(clip, RATE)))  # 1 Hz bins
    assert spectrum[1000] > 0.9 * RATE / 2
    assert spectrum[100] < 0.01 * RATE / 2 and spectrum[6000] < 0.01 * RATE / 2


@pytest.mark.parametrize("snr", [20.0, 10.0, 5.0, 0.0])
def test_added_noise_has_the_requested_snr(snr, tmp_path):
    clip = voiced(2.0)
    recorded = tmp_path / "noise"
    recorded.mkdir()
    rng = np.random.default_rng(3)
    # A user's noise recording: another rate, stereo, longer than the clip.
    soundfile.write(recorded / "fan.wav", 0.05 * rng.standard_normal((48_000 * 3, 2)), 48_000)
    settings = AugmentSettings(noise=1, speed=0, gain=0, reverb=0, telephone=0)
    settings.min_snr_db = settings.max_snr_db = snr
    for augment in (Augmenter(settings, RATE), Augmenter(settings, RATE, noise_dir=recorded)):
        for seed in range(3):
            noisy = augment(clip, np.random.default_rng(seed))
            measured = 10 * np.log10(transforms.power(clip) / transforms.power(noisy - clip))
            assert abs(measured - snr) < 0.5


def _extractor() -> Wav2Vec2FeatureExtractor:
    return Wav2Vec2FeatureExtractor(sampling_rate=RATE, return_attention_mask=True)


def test_the_collator_augments_the_audio_and_keeps_every_label():
    batch_rows = rows()
    plain = AudioClassificationCollator(_extractor(), 3.0)(batch_rows)
    augment = Augmenter(AugmentSettings(noise=1.0, speed=0, gain=0, reverb=1.0), RATE)
    augmented = AudioClassificationCollator(_extractor(), 3.0, augment=augment)(batch_rows)
    assert augmented["labels"].tolist() == [row["label"] for row in batch_rows]
    assert augmented["labels"].tolist() == plain["labels"].tolist()
    assert augmented["input_values"].shape == plain["input_values"].shape
    assert (augmented["input_values"] - plain["input_values"]).abs().amax(dim=1).min() > 0.05


def _epochs(tmp_path, seed: int, workers: int) -> list[list[torch.Tensor]]:
    """Two epochs of the training loader a run builds, as (row-sorted) input values."""
    import datasets

    from training.data.batching import model_view
    from training.trainer.emotion_trainer import EmotionTrainer

    model_dir = save_tiny_classifier(tmp_path / f"model_{seed}_{workers}")
    clips = rows(6)
    dataset = datasets.Dataset.from_dict(
        {
            "audio": [{"array": r["audio"]["array"], "sampling_rate": RATE} for r in clips],
            "label": [r["label"] for r in clips],
            "length": [len(r["audio"]["array"]) for r in clips],
        }
    )
    _, _, args = parse_arguments(
        ["--model_path", str(model_dir), "--dataset_dir", "unused",
         "--output_dir", str(tmp_path / "out"), "--use_cpu", "true", "--seed", str(seed),
         "--per_device_train_batch_size", "6", "--dataloader_num_workers", str(workers),
         "--eval_strategy", "no", "--save_strategy", "no", "--load_best_model_at_end", "false"]
    )  # fmt: skip
    set_seed(seed)
    from transformers import Wav2Vec2ForSequenceClassification

    trainer = EmotionTrainer(
        model=Wav2Vec2ForSequenceClassification.from_pretrained(model_dir),
        args=args,
        data_collator=AudioClassificationCollator(
            _extractor(), 3.0, True, Augmenter(AugmentSettings(), RATE)
        ),
        train_dataset=model_view(dataset),
    )
    loader = trainer.get_train_dataloader()
    epochs = []
    for epoch in range(2):
        if hasattr(loader, "set_epoch"):
            loader.set_epoch(epoch)
        (batch,) = list(loader)
        order = torch.argsort(batch["labels"] * 100 + batch["attention_mask"].sum(1) % 100)
        epochs.append(batch["input_values"][order])
    return epochs


@pytest.mark.parametrize("workers", [0, 2])
def test_augmentation_is_reproducible_from_the_seed_and_new_at_every_epoch(tmp_path, workers):
    first, second = _epochs(tmp_path, 5, workers)
    again_first, again_second = _epochs(tmp_path, 5, workers)
    other_first, _ = _epochs(tmp_path, 6, workers)
    assert torch.equal(first, again_first) and torch.equal(second, again_second)
    assert first.shape != second.shape or not torch.equal(first, second)
    assert first.shape != other_first.shape or not torch.equal(first, other_first)


def test_validation_and_test_batches_are_never_augmented(
    tmp_path, checkpoint, sample_data_dir, caplog
):
    """The run's own trainer with --augment and the presets' frozen CNN: the CNN feature cache
    says in one line that it cannot augment and stays off (it would train on clean clips); the
    evaluation and test loaders give exactly the plain collator's batches; training's does not."""
    from training.data.dataset_facts import label_names
    from training.data.loading import load_prepared_dataset, split_for_training
    from training.trainer.cached_cnn_training import AUGMENT_NOT_CACHED
    from training.wav2vec2_classification import _build_model, _build_trainer

    model_args, data_args, training_args = parse_arguments(
        ["--model_path", str(checkpoint / "pytorch_model.bin"),
         "--config_path", str(checkpoint / "config.json"), "--data_dir", str(sample_data_dir),
         "--cache_dir", str(tmp_path / "cache"), "--output_dir", str(tmp_path / "run"),
         "--use_cpu", "true", "--augment", "true", "--augment_noise", "1",
         "--per_device_eval_batch_size", "8", "--dataloader_num_workers", "0"]
    )  # fmt: skip
    set_seed(0)
    dataset, record = load_prepared_dataset(data_args)
    splits, _ = split_for_training(dataset, data_args, record)
    model, _, extractor, _ = _build_model(model_args, dataset, tuple(label_names(dataset)))
    assert model_args.freeze_feature_encoder and model_args.feature_cache_gb is None
    with caplog.at_level("WARNING", logger="training.trainer.cached_cnn_training"):
        trainer, views = _build_trainer(
            model, extractor, dataset, splits, model_args, data_args, training_args
        )
    cache_lines = [
        r.getMessage() for r in caplog.records if r.name == "training.trainer.cached_cnn_training"
    ]
    assert cache_lines == [AUGMENT_NOT_CACHED]
    assert "cannot augment" in AUGMENT_NOT_CACHED
    assert getattr(trainer, "feature_cache", None) is None
    assert trainer.data_collator.augment is not None
    plain = AudioClassificationCollator(extractor)
    for name, loader in (
        ("validation", trainer.get_eval_dataloader()),
        ("test", trainer.get_test_dataloader(views["test"])),
    ):
        view = views[name]
        start = 0
        for batch in loader:
            size = len(batch["labels"])
            expected = plain([view[i] for i in range(start, start + size)])
            assert torch.equal(batch["input_values"], expected["input_values"]), name
            start += size
        assert start == len(view)
    # The training collator of the same trainer does change these rows (the check can fail).
    first_rows = [views["validation"][i] for i in range(8)]
    trained_on = trainer.data_collator(first_rows)["input_values"]
    assert not torch.equal(trained_on, plain(first_rows)["input_values"])


def _refusal(argv: list[str], capsys) -> str:
    with pytest.raises(SystemExit) as exited:
        parse_arguments(argv)
    assert exited.value.code == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]
    assert len(lines) == 1
    return lines[0]


BASE = ["--model_path", "m", "--dataset_dir", "d", "--output_dir", "o"]


def test_the_frozen_encoder_probe_refuses_augmentation_in_one_line(capsys):
    line = _refusal([*BASE, "--freeze_encoder", "true", "--augment", "true"], capsys)
    assert "--augment: the frozen-encoder probe" in line and "cannot augment" in line
    assert "--cache_frozen_features false" in line
    _, data_args, _ = parse_arguments(
        [*BASE, "--freeze_encoder", "true", "--cache_frozen_features", "false", "--augment", "true"]
    )
    assert data_args.augment


def test_an_empty_or_missing_noise_folder_is_refused_in_one_line(tmp_path, capsys):
    empty = tmp_path / "noise"
    empty.mkdir()
    (empty / "notes.txt").write_text("no audio here")
    line = _refusal([*BASE, "--augment", "true", "--noise_dir", str(empty)], capsys)
    assert f"--noise_dir {empty}: no audio files" in line
    line = _refusal([*BASE, "--augment", "true", "--rir_dir", str(tmp_path / "gone")], capsys)
    assert f"--rir_dir {tmp_path / 'gone'}: no such folder" in line
    line = _refusal([*BASE, "--noise_dir", str(empty)], capsys)
    assert "--noise_dir: used only with --augment" in line
    line = _refusal([*BASE, "--augment", "true", "--augment_noise", "1.5"], capsys)
    assert "--augment_noise 1.5: a probability is between 0 and 1" in line


def test_augmentation_trains_on_several_corpora_with_class_weights_and_length_groups(
    tmp_path, checkpoint
):
    """Two prepared corpora, balanced class weights and the length-grouped sampler (the
    default) with --augment: the run's training loader gives every training row once per
    epoch, each with its own label, and corrupted audio; the loss is the class-weighted one."""
    from data_scripts.corpora.prepare import main as prepare
    from data_scripts.corpora.ravdess.sample_archives import write_voice_file
    from training.data.dataset_facts import label_names
    from training.data.loading import load_prepared_dataset, split_for_training
    from training.wav2vec2_classification import _build_model, _build_trainer

    emodb, crema = tmp_path / "emodb", tmp_path / "crema"
    for speaker in ("03", "08", "09", "10"):
        for name, emotion in (("a01Wa", "angry"), ("a02Fa", "happy"), ("b01La", "boredom")):
            write_voice_file(emodb / f"{speaker}{name}.wav", emotion, speaker == "03", 1,
                             sampling_rate=16_000, seconds=(0.5, 0.9))  # fmt: skip
    for actor in ("1001", "1002", "1003", "1004"):
        for code, emotion in (("ANG", "angry"), ("SAD", "sad"), ("NEU", "neutral")):
            write_voice_file(crema / f"{actor}_DFA_{code}_XX.wav", emotion, True, 2,
                             sampling_rate=16_000, seconds=(0.5, 0.9))  # fmt: skip
    for corpus, folder in (("emodb", emodb), ("crema_d", crema)):
        flags = [
            "--output_dir",
            str(tmp_path / f"prepared_{corpus}"),
            "--cache_dir",
            str(tmp_path / "cache"),
        ]
        assert prepare(["--corpus", corpus, "--data_dir", str(folder), *flags]) == 0
    model_args, data_args, training_args = parse_arguments(
        ["--model_path", str(checkpoint / "pytorch_model.bin"),
         "--config_path", str(checkpoint / "config.json"),
         "--dataset_dir", str(tmp_path / "prepared_emodb"),
         "--dataset_dir", str(tmp_path / "prepared_crema_d"),
         "--output_dir", str(tmp_path / "run"), "--use_cpu", "true", "--augment", "true",
         "--augment_noise", "1", "--class_weighting", "balanced",
         "--per_device_train_batch_size", "4", "--dataloader_num_workers", "0"]
    )  # fmt: skip
    assert training_args.train_sampling_strategy == "group_by_length"
    set_seed(0)
    dataset, record = load_prepared_dataset(data_args)
    splits, _ = split_for_training(dataset, data_args, record)
    model, _, extractor, _ = _build_model(model_args, dataset, tuple(label_names(dataset)))
    trainer, views = _build_trainer(
        model, extractor, dataset, splits, model_args, data_args, training_args
    )
    train = views["train"]
    assert trainer.compute_loss_func is not None  # balanced weights (None: plain cross-entropy)
    plain = AudioClassificationCollator(extractor)
    seen = []
    for batch in trainer.get_train_dataloader():
        seen += batch["labels"].tolist()
        assert batch["input_values"].shape[0] == len(batch["labels"])
    assert sorted(seen) == sorted(int(label) for label in train["label"])
    rows = [train[i] for i in range(4)]
    corrupted = trainer.data_collator(rows)
    assert corrupted["labels"].tolist() == plain(rows)["labels"].tolist()
    assert not torch.equal(corrupted["input_values"], plain(rows)["input_values"])
