"""Training-side benchmark on CPU: length grouping, step cost per preset, data-wait share.

    python bench/bench_training.py [--actors 1-4] [--steps 6]

Prints (and writes bench_output/training_bench.json):
  1. padded fraction of each batch over one epoch, random vs length-grouped batches;
  2. training samples/s of the small preset, random vs length-grouped (same steps);
  3. forward+backward seconds per second of audio for full, medium and small;
  4. the share of step time spent waiting for data (target < 5 %);
  5. with the CNN frozen, training and validation samples/s of the tiny and small presets with
     the CNN computed every step vs its outputs cached once (`--only_cache`: this part only);
  6. (`--augment`) part 4 with the default augmentation recipe, and the wait measured inside a
     training loop with the presets' DataLoader workers (`--only_augment`: this part only).
All ratios are taken against a baseline measured in this same run.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

import numpy as np
import torch
import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.bench_support import cpu_seconds  # noqa: E402
from data_scripts.common.atomic_write import write_json_atomic  # noqa: E402
from data_scripts.corpora.ravdess.sample_archives import parse_actor_range, write_sample_archives  # noqa: E402
from data_scripts.corpora.ravdess_corpus import build_ravdess  # noqa: E402
from training.arguments import parse_arguments  # noqa: E402
from training.augment.augmenter import Augmenter, AugmentSettings  # noqa: E402
from training.data.batching import AudioClassificationCollator, model_view  # noqa: E402
from training.demo.stand_in_checkpoint import write_ctc_checkpoint  # noqa: E402
from training.model.model_builder import build_classifier, build_feature_extractor  # noqa: E402
from training.trainer.cached_cnn_training import use_cnn_feature_cache  # noqa: E402
from training.trainer.emotion_trainer import EmotionTrainer  # noqa: E402

OUTPUT = REPO / "bench_output"
PRESETS = ("full", "medium", "small")
CACHE_PRESETS = ("tiny", "small")
VALIDATION_CLIPS = 32
BATCH_SIZE = 8


def prepared_dataset(actors: list[int]):
    archives = OUTPUT / f"train_bench_archives_{actors[0]}-{actors[-1]}"
    if not (archives / "Audio_Song_Actors_01-24.zip").exists():
        write_sample_archives(archives, actors, seconds=(3.0, 5.0))
    return build_ravdess(archive_dir=archives, cache_dir=OUTPUT / "train_bench_cache")


def make_trainer(
    preset: str, dataset, grouping: str, max_steps: int, augment: bool = False, workers: int = 0
) -> EmotionTrainer:
    checkpoint = OUTPUT / f"checkpoint_{preset}"
    if not (checkpoint / "model.safetensors").exists():
        write_ctc_checkpoint(REPO / "configs" / "models" / f"{preset}.json", checkpoint)
    model_args, _, args = parse_arguments(
        [
            "--model_path", str(checkpoint), "--dataset_dir", "unused",
            "--output_dir", str(OUTPUT / "trainer"), "--use_cpu", "true",
            "--per_device_train_batch_size", str(BATCH_SIZE), "--max_steps", str(max_steps),
            "--train_sampling_strategy", grouping, "--eval_strategy", "no",
            "--save_strategy", "no", "--load_best_model_at_end", "false",
            "--logging_strategy", "no", "--optim", "adamw_torch", "--disable_tqdm", "true",
            "--dataloader_num_workers", str(workers),
        ]
    )  # fmt: skip
    model, _ = build_classifier(model_args.model_path)
    model.freeze_feature_encoder()
    extractor, _ = build_feature_extractor(model_args.model_path)
    return EmotionTrainer(
        model=model,
        args=args,
        data_collator=AudioClassificationCollator(
            extractor,
            6.0,
            random_crop=True,
            augment=Augmenter(AugmentSettings(), extractor.sampling_rate) if augment else None,
        ),
        train_dataset=model_view(dataset),
        processing_class=extractor,
    )


def epoch_padding_and_data_time(trainer: EmotionTrainer) -> tuple[float, float, int]:
    """Padded share of all samples in one epoch of batches, and the seconds to produce them."""
    padded = total = batches = 0
    start = time.perf_counter()
    for batch in trainer.get_train_dataloader():
        mask = batch["attention_mask"]
        padded += int((mask == 0).sum())
        total += mask.numel()
        batches += 1
    return padded / total, time.perf_counter() - start, batches


def fwd_bwd_seconds_per_audio_second(preset: str, dataset, repeats: int = 2) -> float:
    trainer = make_trainer(preset, dataset, "group_by_length", 1)
    model = trainer.model.train()
    batch = next(iter(trainer.get_train_dataloader()))
    audio_seconds = float(batch["attention_mask"].sum()) / 16_000
    model(**batch).loss.backward()  # warm-up
    start = time.perf_counter()
    for _ in range(repeats):
        model.zero_grad()
        model(**batch).loss.backward()
    return (time.perf_counter() - start) / repeats / audio_seconds


def timed_training_and_validation(trainer, validation) -> dict:
    """Wall and CPU seconds of `trainer.train()` (its max_steps) and of one pass over
    `validation` (CPU seconds barely move when other jobs share the cores)."""
    wall, cpu = time.perf_counter(), cpu_seconds()
    trainer.train()
    trained_wall, trained_cpu = time.perf_counter(), cpu_seconds()
    trainer.evaluate(validation)
    return {
        "train": trained_wall - wall,
        "train_cpu": trained_cpu - cpu,
        "validation": time.perf_counter() - trained_wall,
        "validation_cpu": cpu_seconds() - trained_cpu,
    }


def cache_comparison(preset: str, dataset, steps: int) -> dict:
    """The frozen CNN computed every step vs cached, same batches (same sampler seed), same
    validation clips; the plain run first, then the cached one (its cache build timed apart)."""
    validation = dataset.select(range(VALIDATION_CLIPS), keep_in_memory=True)
    splits = {"train": dataset, "validation": validation, "test": validation}
    plain = timed_training_and_validation(
        make_trainer(preset, dataset, "group_by_length", steps), model_view(validation)
    )
    cached_trainer = make_trainer(preset, dataset, "group_by_length", steps)
    start = time.perf_counter()
    views = use_cnn_feature_cache(
        cached_trainer,
        splits,
        cached_trainer.processing_class,
        6.0,
        None,
        str(OUTPUT / "train_bench_cache"),
    )
    build = time.perf_counter() - start
    cached = timed_training_and_validation(cached_trainer, views["validation"])
    samples = steps * BATCH_SIZE
    return {
        "plain_train_samples_per_second": samples / plain["train"],
        "cached_train_samples_per_second": samples / cached["train"],
        "train_speedup": plain["train"] / cached["train"],
        "train_speedup_cpu_seconds": plain["train_cpu"] / cached["train_cpu"],
        "plain_validation_samples_per_second": VALIDATION_CLIPS / plain["validation"],
        "cached_validation_samples_per_second": VALIDATION_CLIPS / cached["validation"],
        "validation_speedup": plain["validation"] / cached["validation"],
        "validation_speedup_cpu_seconds": plain["validation_cpu"] / cached["validation_cpu"],
        "cache_build_seconds": build,
        "cache_build_clips_per_second": (len(dataset) + 2 * VALIDATION_CLIPS) / build,
    }


def cache_section(dataset, steps: int, results: dict) -> None:
    results["cnn_feature_cache"] = {}
    for preset in CACHE_PRESETS:
        row = cache_comparison(preset, dataset, steps)
        results["cnn_feature_cache"][preset] = row
        print(
            f"{preset:>8} frozen CNN: train {row['plain_train_samples_per_second']:.2f} -> "
            f"{row['cached_train_samples_per_second']:.2f} samples/s "
            f"({row['train_speedup']:.2f}x; CPU s {row['train_speedup_cpu_seconds']:.2f}x), "
            "validation "
            f"{row['plain_validation_samples_per_second']:.2f} -> "
            f"{row['cached_validation_samples_per_second']:.2f} clips/s "
            f"({row['validation_speedup']:.2f}x; CPU s "
            f"{row['validation_speedup_cpu_seconds']:.2f}x); cache built at "
            f"{row['cache_build_clips_per_second']:.1f} clips/s"
        )


def preset_workers(preset: str) -> int:
    """The DataLoader workers the preset's YAML sets, following its `base:` file (small,
    medium, full: gpu_base's); 0 when none sets it (the Trainer's default)."""
    path = REPO / "configs" / "training" / f"{preset}.yaml"
    while True:
        config = yaml.safe_load(path.read_text()) or {}
        if "dataloader_num_workers" in config:
            return int(config["dataloader_num_workers"])
        if "base" not in config:
            return 0
        path = path.parent / config["base"]


def waits_in_training(trainer: EmotionTrainer, steps: int) -> dict:
    """Seconds a training loop (forward, backward, AdamW) waits for its batches out of its
    steps' seconds, with the trainer's DataLoader workers; the first batch (the workers'
    start-up, once per epoch) is timed apart."""
    model = trainer.model.train()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-5)
    start = time.perf_counter()
    batches = iter(trainer.get_train_dataloader())
    next(batches)
    first = time.perf_counter() - start
    wait = total = 0.0
    for _ in range(steps):
        start = time.perf_counter()
        batch = next(batches)
        ready = time.perf_counter()
        model(**batch).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        wait += ready - start
        total += time.perf_counter() - start
    return {
        "first_batch_seconds": first,
        "wait_share": wait / total,
        "seconds_per_step": total / steps,
    }


def augment_section(dataset, steps: int, results: dict) -> None:
    """Part 6: the data-wait share without and with the default augmentation recipe, as part 4
    measures it (batches made in the main process, an upper bound) and inside a training loop
    with the small preset's workers and with none (the tiny preset's)."""
    workers = preset_workers("small")
    results["augment_data_wait"] = {}
    for augment in (False, True):
        name = "augment" if augment else "plain"
        trainer = make_trainer("small", dataset, "group_by_length", steps, augment)
        _, data_seconds, batches = epoch_padding_and_data_time(trainer)
        start = time.perf_counter()
        trainer.train()
        per_step = (time.perf_counter() - start) / steps
        row = {"main_process_share": data_seconds / batches / per_step}
        for count in sorted({0, workers}):
            looped = make_trainer("small", dataset, "group_by_length", steps, augment, count)
            row[f"workers_{count}"] = waits_in_training(looped, steps)
        results["augment_data_wait"][name] = row
        print(
            f"{name:>8}: data {row['main_process_share']:.2%} of a step (main process); waited "
            + ", ".join(
                f"{row[f'workers_{c}']['wait_share']:.2%} with {c} workers"
                for c in sorted({0, workers})
            )
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--actors", default="1-4")
    parser.add_argument("--steps", type=int, default=6, help="training steps per timed run")
    parser.add_argument("--only_cache", action="store_true", help="part 5 only")
    parser.add_argument("--augment", action="store_true", help="also part 6 (augmentation)")
    parser.add_argument("--only_augment", action="store_true", help="part 6 only")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    torch.manual_seed(0)
    OUTPUT.mkdir(exist_ok=True)
    dataset = prepared_dataset(parse_actor_range(args.actors))
    seconds = np.asarray(dataset["length"]) / 16_000
    span = f"{seconds.min():.1f}-{seconds.max():.1f} s"
    print(f"data: {len(dataset)} clips, {seconds.sum() / 60:.1f} min, {span}")
    results: dict = {"clips": len(dataset), "torch_threads": torch.get_num_threads()}
    if args.only_cache:
        cache_section(dataset, args.steps, results)
        write_json_atomic(OUTPUT / "training_cache_bench.json", results, sort_keys=False)
        return
    if args.only_augment:
        augment_section(dataset, args.steps, results)
        write_json_atomic(OUTPUT / "training_augment_bench.json", results, sort_keys=False)
        return

    for grouping in ("random", "group_by_length"):
        trainer = make_trainer("small", dataset, grouping, args.steps)
        padded, data_seconds, batches = epoch_padding_and_data_time(trainer)
        start = time.perf_counter()
        trainer.train()
        train_seconds = time.perf_counter() - start
        per_step = train_seconds / args.steps
        results[grouping] = {
            "padded_fraction": padded,
            "samples_per_second": args.steps * BATCH_SIZE / train_seconds,
            "seconds_per_step": per_step,
            "data_seconds_per_batch": data_seconds / batches,
            "data_wait_share": data_seconds / batches / per_step,
        }
        row = results[grouping]
        print(
            f"{grouping:>16}: padded {padded:.1%}, {row['samples_per_second']:.2f} samples/s, "
            f"data {row['data_seconds_per_batch'] * 1000:.0f} ms of {per_step * 1000:.0f} ms "
            f"per step ({row['data_wait_share']:.2%})"
        )
    results["grouping_speedup"] = (
        results["group_by_length"]["samples_per_second"] / results["random"]["samples_per_second"]
    )
    print(f"length grouping: {results['grouping_speedup']:.2f}x samples/s")

    results["fwd_bwd_seconds_per_audio_second"] = {}
    for preset in PRESETS:
        value = fwd_bwd_seconds_per_audio_second(preset, dataset)
        results["fwd_bwd_seconds_per_audio_second"][preset] = value
        print(f"{preset:>8}: forward+backward {value:.3f} s per second of audio")
    cache_section(dataset, args.steps, results)
    if args.augment:
        augment_section(dataset, args.steps, results)
    write_json_atomic(OUTPUT / "training_bench.json", results, sort_keys=False)


if __name__ == "__main__":
    main()
