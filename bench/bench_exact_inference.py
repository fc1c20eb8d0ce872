"""What batch-independent inference costs: clips per second, padded batches vs exact vs one by one.

    python bench/bench_exact_inference.py [--clips 100] [--repeats 3]

On the small preset (configs/models/small.json, random weights) and generated clips of 3-5 s,
CPU, fp32. Three ways to score the same clips, run interleaved in each repeat so that load
from other processes hits all of them alike; medians over the repeats are reported:
  padded  - today's padded batches (the CNN sees each clip's zero padding);
  exact   - `training.model.exact_forward`: the CNN on each clip unpadded, the rest batched;
  single  - batch size 1 (exact by construction, the slow reference).
for the Trainer's evaluation (batch 16, as configs/training/small.yaml) and for
`training.inference.predict` (its default batch 8). Evaluation also runs exact on the rows in length
order, as training's evaluated splits are (`training.data.loading.split_for_training`). Also one
training step (forward+backward, batch 8, frozen CNN) padded vs exact. Writes
bench_output/exact_inference_bench.json.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import statistics
import sys
import time
from pathlib import Path

import datasets
import numpy as np
import soundfile
import torch

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from bench_support import generated_clips  # noqa: E402
from tqdm.auto import tqdm  # noqa: E402
from transformers import TrainingArguments  # noqa: E402

import training.inference.predict as predict_module  # noqa: E402
from data_scripts.corpora.ravdess.facts import EMOTIONS  # noqa: E402
from training.data.batching import AudioClassificationCollator, model_view  # noqa: E402
from training.demo.stand_in_checkpoint import write_ctc_checkpoint  # noqa: E402
from training.inference.scoring import Scorer  # noqa: E402
from training.inference.vad import NoVad  # noqa: E402
from training.inference.windows import score_file  # noqa: E402
from training.model.exact_forward import make_batch_independent  # noqa: E402
from training.model.model_builder import build_classifier, build_feature_extractor  # noqa: E402
from training.model.window_facts import FALLBACK_HOP_SECONDS, FALLBACK_WINDOW_SECONDS  # noqa: E402
from training.trainer.emotion_trainer import EmotionTrainer  # noqa: E402

OUTPUT = REPO / "bench_output" / "exact_inference"
RATE = 16_000
EVAL_BATCH = 16
TRAIN_BATCH = 8
VARIANTS = ("padded", "exact", "single")


@contextlib.contextmanager
def padded_model(model):
    """Today's path: take the per-clip CNN off the model for the duration."""
    installed = make_batch_independent(model)
    if installed is not None:
        installed.remove()
    try:
        yield
    finally:
        make_batch_independent(model)


def evaluation_rate(trainer: EmotionTrainer, dataset, batch_size: int) -> float:
    trainer.args.per_device_eval_batch_size = batch_size
    start = time.perf_counter()
    trainer.predict(dataset)
    return len(dataset) / (time.perf_counter() - start)


def predict_rate(scorer, files: list[Path], batch_size: int) -> float:
    """`training.inference.predict`'s decode-and-score path (model loaded once, untimed), with
    the old 8 s / 4 s windows and every window scored (no voice-activity detection)."""
    window = int(FALLBACK_WINDOW_SECONDS * RATE)
    hop = int(FALLBACK_HOP_SECONDS * RATE)
    start = time.perf_counter()
    with tqdm(disable=True) as progress:
        for path in files:
            score_file(path, scorer, NoVad(), window, hop, batch_size, progress)
    return len(files) / (time.perf_counter() - start)


def train_step_seconds(model, batch, exact: bool) -> float:
    model.train()
    context = contextlib.nullcontext() if exact else padded_model(model)
    with context:
        model(**batch).loss.backward()  # warm-up
        model.zero_grad()
        start = time.perf_counter()
        model(**batch).loss.backward()
        elapsed = time.perf_counter() - start
        model.zero_grad()
    model.eval()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--clips", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    datasets.disable_progress_bars()
    torch.manual_seed(0)
    OUTPUT.mkdir(parents=True, exist_ok=True)

    checkpoint = OUTPUT / "checkpoint_small"
    if not (checkpoint / "model.safetensors").exists():
        write_ctc_checkpoint(REPO / "configs" / "models" / "small.json", checkpoint)
    model, _ = build_classifier(str(checkpoint), pooling="weighted_layers")
    model.freeze_feature_encoder()
    extractor, _ = build_feature_extractor(str(checkpoint))
    model_dir = OUTPUT / "classifier_small"
    model.save_pretrained(model_dir)
    extractor.save_pretrained(model_dir)

    clips = generated_clips(args.clips)
    audio_dir = OUTPUT / "clips"
    audio_dir.mkdir(exist_ok=True)
    files = []
    for index, clip in enumerate(clips):
        files.append(audio_dir / f"clip_{index:03d}.wav")
        soundfile.write(files[-1], clip, RATE, subtype="FLOAT")
    labels = [index % len(EMOTIONS) for index in range(len(clips))]
    dataset = datasets.Dataset.from_dict(
        {
            "audio": [{"array": clip, "sampling_rate": RATE} for clip in clips],
            "label": labels,
            "length": [len(clip) for clip in clips],
        }
    )
    seconds = np.array([len(c) for c in clips]) / RATE
    print(f"{len(clips)} clips, {seconds.sum():.0f} s of audio, {seconds.min():.1f}-"
          f"{seconds.max():.1f} s; torch threads {torch.get_num_threads()}")  # fmt: skip

    trainer = EmotionTrainer(
        model=model,
        args=TrainingArguments(
            output_dir=str(OUTPUT / "trainer"),
            use_cpu=True,
            report_to="none",
            remove_unused_columns=False,
            disable_tqdm=True,
            per_device_eval_batch_size=EVAL_BATCH,
        ),  # fmt: skip
        data_collator=AudioClassificationCollator(extractor),
    )
    scorer = Scorer(model_dir, "cpu", "float32")
    view = model_view(dataset)
    # What training.data.loading.split_for_training hands the Trainer: evaluated splits in
    # length order.
    view_by_length = model_view(dataset.sort("length", keep_in_memory=True))
    collate = AudioClassificationCollator(extractor, 6.0, random_crop=True)
    order = np.argsort(seconds)[::-1]  # length-grouped, like training batches
    middle = max(0, len(order) // 2 - TRAIN_BATCH // 2)
    train_batch = collate([dataset[int(i)] for i in order[middle : middle + TRAIN_BATCH]])

    runs: dict[str, dict[str, list[float]]] = {
        "evaluation": {v: [] for v in (*VARIANTS, "exact_length_order")},
        "predict": {v: [] for v in VARIANTS},
        "train_step_seconds": {"padded": [], "exact": []},
    }
    for repeat in range(args.repeats):
        for variant in VARIANTS:
            batch = 1 if variant == "single" else EVAL_BATCH
            context = padded_model(model) if variant == "padded" else contextlib.nullcontext()
            with context:
                runs["evaluation"][variant].append(evaluation_rate(trainer, view, batch))
            if variant == "exact":
                runs["evaluation"]["exact_length_order"].append(
                    evaluation_rate(trainer, view_by_length, EVAL_BATCH)
                )
            batch = 1 if variant == "single" else predict_module.DEFAULT_BATCH_SIZE
            context = (
                padded_model(scorer.model) if variant == "padded" else contextlib.nullcontext()
            )
            with context:
                runs["predict"][variant].append(predict_rate(scorer, files, batch))
        for variant in ("padded", "exact"):
            runs["train_step_seconds"][variant].append(
                train_step_seconds(model, train_batch, exact=variant == "exact")
            )
        print(f"repeat {repeat + 1}: " + json.dumps(
            {k: {v: round(x[-1], 2) for v, x in d.items()} for k, d in runs.items()}
        ))  # fmt: skip

    medians = {k: {v: statistics.median(x) for v, x in d.items()} for k, d in runs.items()}
    print(f"\nmedians over {args.repeats} repeats:")
    for task in ("evaluation", "predict"):
        row = medians[task]
        print(
            f"{task:>10}: clips/s padded {row['padded']:.2f}, exact {row['exact']:.2f} "
            f"({row['exact'] / row['padded']:.2f}x), batch size 1 {row['single']:.2f} "
            f"({row['single'] / row['padded']:.2f}x)"
        )
    ordered = medians["evaluation"]["exact_length_order"]
    print(
        f"evaluation, exact, rows in length order (as training evaluates): {ordered:.2f} "
        f"clips/s ({ordered / medians['evaluation']['padded']:.2f}x padded)"
    )
    step = medians["train_step_seconds"]
    print(
        f"train step (batch {TRAIN_BATCH}, frozen CNN): padded {step['padded']:.2f} s, "
        f"exact {step['exact']:.2f} s ({step['exact'] / step['padded']:.2f}x time)"
    )
    (OUTPUT.parent / "exact_inference_bench.json").write_text(
        json.dumps({"runs": runs, "medians": medians, "clips": len(clips)}, indent=2)
    )


if __name__ == "__main__":
    main()
