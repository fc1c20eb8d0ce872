"""One prepared check of training and inference on a GPU; a tiny dry run on CPU.

    python bench/gpu_check.py OUTPUT_DIR [--dry_run]     # bench/gpu_check.sh brings its wheels

On synthetic RAVDESS-size data made on the spot (random-weight presets, no download) it measures
  1. correctness: batched logits against one clip at a time, full preset (group norm, weighted
     layers), exact forward, fp32 (TF32 off) within 1e-4 and bf16 within 3 % of the largest logit;
  2. training of the full and small presets with their GPU settings (configs/training/*.yaml:
     bf16, adamw_torch_fused, SDPA, 4 loader workers, length grouping) through EmotionTrainer:
     samples/s, audio seconds/s, peak GPU memory, data-wait share, model-FLOP utilisation
     (bench/model_flops.py), and one training batch's forward+backward exact vs padded;
  3. evaluation clips/s and a 20-epoch full-preset fine-tune's projected wall time on RAVDESS;
  4. probing: the frozen-feature cache build (clips/s); predict's scorer batched and one clip
     at a time.
Writes OUTPUT_DIR/gpu_check.json and OUTPUT_DIR/gpu_check.md (the same numbers as a table).
Without CUDA (or with --dry_run) it runs the same steps with the tiny model and a few short
clips, and says so: the numbers then only show that every step works.
"""

from __future__ import annotations

import argparse
import copy
import gc
import importlib.util
import logging
import os
import platform
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "bench"
WHEELS_LIST = BENCH / "gpu_wheels.txt"
sys.path[:0] = [str(REPO), str(BENCH)]


def missing_packages() -> list[str]:
    """Packages of bench/gpu_wheels.txt that this Python cannot import."""
    lines = [line.split("#")[0].strip() for line in WHEELS_LIST.read_text().splitlines()]
    names = [line.split("==")[0] for line in lines if line]
    missing = []
    for name in names:
        try:
            found = importlib.util.find_spec(name) is not None
        except ImportError:  # a finder that refuses the name, or a broken package
            found = False
        if not found:
            missing.append(name)
    return missing


@dataclass(frozen=True)
class Sizes:
    models: dict  # role -> model config file (configs/models)
    train_clips: int
    seconds: tuple[float, float]
    correctness_clips: int
    warmup_steps: int
    budget_seconds: float  # timed training per preset
    step_repeats: int
    eval_clips: int
    cache_clips: int
    predict_clips: int
    single_clips: int


GPU_SIZES = Sizes(
    models={"full": "full.json", "small": "small.json"},
    train_clips=1900, seconds=(3.0, 5.0), correctness_clips=32, warmup_steps=5,
    budget_seconds=40.0, step_repeats=10, eval_clips=400, cache_clips=400,
    predict_clips=256, single_clips=96,
)  # fmt: skip
DRY_SIZES = Sizes(
    models={"full": "tiny.json", "small": "tiny.json"},
    train_clips=32, seconds=(1.0, 1.5), correctness_clips=6, warmup_steps=1,
    budget_seconds=1.0, step_repeats=2, eval_clips=8, cache_clips=8,
    predict_clips=8, single_clips=4,
)  # fmt: skip
# The dry run keeps the presets' settings but bf16 (slow on CPU) and uses one loader worker
# (the worker path is still taken) on the small CPUs it runs on.
DRY_FLAGS = ["--use_cpu", "true", "--dataloader_num_workers", "1"]
GPU_FLAGS = ["--bf16", "true"]
FP32_TOLERANCE = 1e-4
# bf16 keeps 8 significant bits (relative step 2^-8 = 0.4 %), and batched and single-clip
# kernels round in different places, so bf16 gets a share of the largest logit: 3 %. On CPU the
# full preset's exact bf16 logits differed by 0.4 % of it, the padded forward's by 6.5 %.
BF16_RELATIVE_TOLERANCE = 0.03
CORRECTNESS_BATCH = 8
PREDICT_BATCH = 8  # predict's default batch size
RATE = 16_000
PRESET_DIR = REPO / "configs" / "training"
SETTINGS_REPORTED = (
    "bf16", "optim", "dataloader_num_workers", "dataloader_pin_memory", "train_sampling_strategy",
    "per_device_train_batch_size", "gradient_accumulation_steps", "max_grad_norm",
)  # fmt: skip
PRESETS = ("full", "small")
RAVDESS = {"speech": 1440, "song": 1012}
# The speaker split: 16 of 24 actors train, 4 validate, 4 test.
SPLIT_SHARES = {"train": 16 / 24, "validation": 4 / 24, "test": 4 / 24}
EPOCHS = 20
# The preset's 20 epochs stay (the clock stops training), so timed steps that cross an epoch
# include the loader's restart, as a real run does; no evaluation or checkpoints in between.
TIMED_FLAGS = [
    "--eval_strategy", "no", "--save_strategy", "no",
    "--load_best_model_at_end", "false", "--report_to", "none", "--disable_tqdm", "true",
]  # fmt: skip


def environment(device) -> dict:
    import accelerate
    import datasets
    import pyarrow
    import torch
    import transformers

    info = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "transformers": transformers.__version__,
        "accelerate": accelerate.__version__,
        "datasets": datasets.__version__,
        "pyarrow": pyarrow.__version__,
        "cpu_count": os.cpu_count(),
        "device": str(device),
    }
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
        info["gpu_memory_bytes"] = torch.cuda.get_device_properties(device).total_memory
        info["cudnn"] = torch.backends.cudnn.version()
        query = ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"]
        try:
            info["driver"] = subprocess.run(query, capture_output=True, text=True).stdout.strip()
        except OSError:
            info["driver"] = None
    return info


def projection(train_rate: float, eval_rate: float) -> dict:
    """Wall time of a 20-epoch full-preset fine-tune on all of RAVDESS: every epoch trains on
    the training actors' files and evaluates the validation actors'; the test actors' once."""
    files = sum(RAVDESS.values())
    split = {name: files * share for name, share in SPLIT_SHARES.items()}
    seconds = EPOCHS * (split["train"] / train_rate + split["validation"] / eval_rate)
    seconds += split["test"] / eval_rate
    return {
        "files": files,
        "epochs": EPOCHS,
        "formula": "epochs x (train / train samples/s + validation / eval clips/s) + test / eval "
        "clips/s; checkpoint writes are not included",
        **{f"{name}_files": round(count) for name, count in split.items()},
        "seconds": seconds,
    }


def load_preset(preset: str, sizes: Sizes, work: Path, flags: list[str]):
    """A random-weight checkpoint of the preset's shape, parsed arguments, model, extractor."""
    from gpu_check_parts import preset_arguments, preset_model
    from transformers import Wav2Vec2FeatureExtractor

    from training.demo.stand_in_checkpoint import write_ctc_checkpoint

    config_file = REPO / "configs" / "models" / sizes.models[preset]
    checkpoint = write_ctc_checkpoint(config_file, work / f"checkpoint_{preset}").parent
    Wav2Vec2FeatureExtractor().save_pretrained(checkpoint)  # wav2vec2-base's settings
    preset_yaml = PRESET_DIR / f"{preset}.yaml"
    arguments = preset_arguments(preset_yaml, checkpoint, work / f"trainer_{preset}", flags)
    return (arguments, *preset_model(arguments[0]))


def correctness(model, extractor, sizes: Sizes) -> dict:
    """Batched against one clip at a time, fp32 with TF32 off (so 1e-4 is a fair bar), and bf16
    on a copy (the model itself keeps its fp32 weights for training)."""
    import torch
    from bench_support import generated_clips
    from gpu_check_parts import batch_independence

    clips = generated_clips(sizes.correctness_clips, sizes.seconds, seed=1)
    result = {"clips": len(clips), "batch_size": CORRECTNESS_BATCH}
    bf16_model = copy.deepcopy(model)  # before the exact forward is installed on `model`
    tf32 = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    try:
        result["fp32"] = batch_independence(
            model, extractor, clips, CORRECTNESS_BATCH, torch.float32, FP32_TOLERANCE
        )
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = tf32
    result["bf16"] = batch_independence(
        bf16_model, extractor, clips, CORRECTNESS_BATCH, torch.bfloat16,
        BF16_RELATIVE_TOLERANCE, relative=True,
    )  # fmt: skip
    return result


def training(model, extractor, arguments, dataset, sizes: Sizes, device, gpu: str | None):
    """The Trainer after its timed steps, and their throughput, memory and FLOP utilisation."""
    from gpu_check_parts import StepClock, train_throughput
    from model_flops import peak_tflops, training_flops

    clock = StepClock(sizes.warmup_steps, sizes.budget_seconds, device)
    trainer, row, lengths = train_throughput(model, extractor, arguments, dataset, clock)
    flops = training_flops(model.config, lengths)
    peak = peak_tflops(gpu)
    args = arguments[2]
    row["settings"] = {name: getattr(args, name) for name in SETTINGS_REPORTED}
    row["settings"]["attn_implementation"] = model.config._attn_implementation
    row["train_flops_per_audio_second"] = flops / (sum(lengths) / RATE)
    row["achieved_tflops"] = flops / row["timed_seconds"] / 1e12
    row["peak_tflops"] = peak
    row["mfu"] = row["achieved_tflops"] / peak if peak else None
    return trainer, row


def inference(model_dir: Path, clips, dataset, sizes: Sizes, device, work: Path, flags) -> dict:
    """The probe's feature cache and predict's scorer on the trained full-preset classifier."""
    from gpu_check_parts import (
        cache_build_rate,
        find_scorer,
        predict_rate,
        preset_arguments,
        preset_model,
    )

    arguments = preset_arguments(PRESET_DIR / "full.yaml", model_dir, work / "probe", flags)
    model, extractor = preset_model(arguments[0])
    subset = dataset.select(range(sizes.cache_clips))
    batch = arguments[2].per_device_eval_batch_size  # the probe's batch, as in training
    result = {"probing": cache_build_rate(model, extractor, subset, work / "cache", device, batch)}
    del model
    scorer_class, scorer_name = find_scorer()
    result["predict"] = {"scorer": scorer_name, "batch_size": PREDICT_BATCH}
    for dtype in ("float32", "bfloat16"):
        scorer = scorer_class(model_dir, str(device), dtype)
        rate = predict_rate(scorer, clips[: sizes.predict_clips], PREDICT_BATCH)
        result["predict"][f"batched_clips_per_second_{dtype}"] = rate
        if dtype == "float32":
            rate = predict_rate(scorer, clips[: sizes.single_clips], 1)
            result["predict"]["single_clips_per_second_float32"] = rate
    return result


def flops_check(model_dir: Path, seconds: float = 4.0) -> dict:
    """bench/model_flops.py's formula against torch's FLOP counter, one clip's forward."""
    from model_flops import counted_forward_flops, forward_flops
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(model_dir)
    samples = int(seconds * RATE)
    formula = forward_flops(config, samples)
    total = sum(formula.values())
    return {
        "clip_seconds": seconds,
        "formula_forward_flops": total,
        "formula_cnn_share": formula["cnn"] / total,
        "counted_forward_flops": counted_forward_flops(config, samples),
    }


def run_check(work: Path, sizes: Sizes, dry_run: bool, result: dict, save) -> None:
    """Every measurement, in order, into `result`, calling `save()` after each section (a run
    that fails late still leaves its numbers); `work` holds checkpoints, trainers, the cache."""
    import datasets
    import torch
    from bench_support import generated_clips
    from gpu_check_parts import clip_dataset, evaluation_rate, step_seconds
    from transformers.utils.logging import disable_progress_bar

    disable_progress_bar()
    datasets.disable_progress_bars()
    device = torch.device("cpu" if dry_run else "cuda")
    flags = DRY_FLAGS if dry_run else GPU_FLAGS
    result.update(dry_run=dry_run, complete=False, sizes=asdict(sizes))
    result["environment"] = environment(device)
    sections = result["seconds"] = {}
    began = last = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal last
        sections[name], last = time.perf_counter() - last, time.perf_counter()
        save()

    clips = generated_clips(sizes.train_clips, sizes.seconds)
    dataset = clip_dataset(clips)
    result["data"] = {"clips": len(clips), "audio_seconds": sum(map(len, clips)) / RATE}
    lap("data")
    result["training"], result["train_step"] = {}, {}
    for preset in PRESETS:
        arguments, model, extractor = load_preset(preset, sizes, work, [*TIMED_FLAGS, *flags])
        model.to(device)
        if preset == "full":
            result["correctness"] = {"preset": preset, **correctness(model, extractor, sizes)}
            lap("correctness")
        gpu = result["environment"].get("gpu")
        trainer, row = training(model, extractor, arguments, dataset, sizes, device, gpu)
        result["training"][preset] = {"model_config": sizes.models[preset], **row}
        result["train_step"][preset] = step_seconds(trainer, sizes.step_repeats)
        lap(f"training_{preset}")
        if preset == "full":
            rate = evaluation_rate(trainer, dataset.select(range(sizes.eval_clips)))
            result["evaluation"] = {"clips": sizes.eval_clips, "clips_per_second": rate}
            result["projection"] = projection(row["samples_per_second"], rate)
            model_dir = work / "classifier_full"
            trainer.model.save_pretrained(model_dir)
            extractor.save_pretrained(model_dir)
            lap("evaluation")
        del trainer, model
        gc.collect()
        if device.type == "cuda":
            torch.cuda.empty_cache()
    result.update(inference(model_dir, clips, dataset, sizes, device, work, flags))
    lap("probing_and_predict")
    result["flops_check"] = flops_check(model_dir)
    sections["total"] = time.perf_counter() - began
    result["complete"] = True
    save()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("output_dir", type=Path)
    parser.add_argument("--dry_run", action="store_true", help="tiny sizes on CPU, even with CUDA")
    parser.add_argument(
        "--train_seconds", type=float, help="timed training per preset (default 40 s on a GPU)"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    missing = missing_packages()
    if missing:
        print(f"error: missing {', '.join(missing)}: run bench/gpu_wheels.sh where pip reaches "
              "PyPI, then bench/gpu_check.sh here (bench/README.md)", file=sys.stderr)  # fmt: skip
        return 2
    import torch

    from data_scripts.common.atomic_write import write_json_atomic

    dry_run = args.dry_run or not torch.cuda.is_available()
    if dry_run:
        reason = "--dry_run" if args.dry_run else "no CUDA device"
        print(f"DRY RUN ({reason}): tiny model, a few short clips, on CPU", flush=True)
        # Tiny ops on a shared CPU: two OpenMP threads spend most of their time waiting for
        # each other (13 s against 0.5 s for the correctness step on a loaded 2-core machine).
        torch.set_num_threads(1)
    sizes = DRY_SIZES if dry_run else GPU_SIZES
    if args.train_seconds:
        sizes = replace(sizes, budget_seconds=args.train_seconds)
    args.output_dir.mkdir(parents=True, exist_ok=True)
    result: dict = {}

    def save() -> None:
        write_json_atomic(args.output_dir / "gpu_check.json", result, sort_keys=False)

    with tempfile.TemporaryDirectory(prefix="gpu_check_") as work:
        try:
            run_check(Path(work), sizes, dry_run, result, save)
        except Exception:
            result["error"] = traceback.format_exc()
            save()
            print(result["error"], file=sys.stderr)
            print(f"error: the check stopped; what it measured is in {args.output_dir}/gpu_check"
                  ".json", file=sys.stderr)  # fmt: skip
            return 1
    from gpu_check_table import table

    text = table(result)
    (args.output_dir / "gpu_check.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
