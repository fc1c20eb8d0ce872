"""Training-side benchmark on CPU: length grouping, step cost per preset, data-wait share.

    python bench/bench_training.py [--actors 1-4] [--steps 6]

Prints (and writes bench_output/training_bench.json):
  1. padded fraction of each batch over one epoch, random vs length-grouped batches;
  2. training samples/s of the small preset, random vs length-grouped (same steps);
  3. forward+backward seconds per second of audio for full, medium and small;
  4. the share of step time spent waiting for data (target < 5 %), with --augment also for
     the default augmentation recipe (data made in the main process: an upper bound of the
     wait with the presets' DataLoader workers).
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

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from data_scripts.common.atomic_write import write_json_atomic  # noqa: E402
from data_scripts.corpora.ravdess.builder import build_ravdess  # noqa: E402
from data_scripts.corpora.ravdess.sample_archives import parse_actor_range, write_sample_archives  # noqa: E402
from training.arguments import parse_arguments  # noqa: E402
from training.augment.augmenter import Augmenter, AugmentSettings  # noqa: E402
from training.data import AudioClassificationCollator, model_view  # noqa: E402
from training.demo.stand_in_checkpoint import write_ctc_checkpoint  # noqa: E402
from training.model.model_builder import build_classifier, build_feature_extractor  # noqa: E402
from training.trainer import EmotionTrainer  # noqa: E402

OUTPUT = REPO / "bench_output"
PRESETS = ("full", "medium", "small")
BATCH_SIZE = 8


def prepared_dataset(actors: list[int]):
    archives = OUTPUT / f"train_bench_archives_{actors[0]}-{actors[-1]}"
    if not (archives / "Audio_Song_Actors_01-24.zip").exists():
        write_sample_archives(archives, actors, seconds=(3.0, 5.0))
    return build_ravdess(archive_dir=archives, cache_dir=OUTPUT / "train_bench_cache")


def make_trainer(
    preset: str, dataset, grouping: str, max_steps: int, augment: bool = False
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


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--actors", default="1-4")
    parser.add_argument("--steps", type=int, default=6, help="training steps per timed run")
    parser.add_argument(
        "--augment", action="store_true", help="also time the default --augment recipe's data"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    torch.manual_seed(0)
    OUTPUT.mkdir(exist_ok=True)
    dataset = prepared_dataset(parse_actor_range(args.actors))
    seconds = np.asarray(dataset["length"]) / 16_000
    span = f"{seconds.min():.1f}-{seconds.max():.1f} s"
    print(f"data: {len(dataset)} clips, {seconds.sum() / 60:.1f} min, {span}")
    results: dict = {"clips": len(dataset), "torch_threads": torch.get_num_threads()}

    runs = [("random", False), ("group_by_length", False)]
    runs += [("group_by_length", True)] if args.augment else []
    for grouping, augment in runs:
        trainer = make_trainer("small", dataset, grouping, args.steps, augment)
        padded, data_seconds, batches = epoch_padding_and_data_time(trainer)
        start = time.perf_counter()
        trainer.train()
        train_seconds = time.perf_counter() - start
        per_step = train_seconds / args.steps
        name = f"{grouping}+augment" if augment else grouping
        results[name] = {
            "padded_fraction": padded,
            "samples_per_second": args.steps * BATCH_SIZE / train_seconds,
            "seconds_per_step": per_step,
            "data_seconds_per_batch": data_seconds / batches,
            "data_wait_share": data_seconds / batches / per_step,
        }
        row = results[name]
        print(
            f"{name:>24}: padded {padded:.1%}, {row['samples_per_second']:.2f} samples/s, "
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
    write_json_atomic(OUTPUT / "training_bench.json", results, sort_keys=False)


if __name__ == "__main__":
    main()
