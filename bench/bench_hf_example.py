"""Our training command against Hugging Face's audio-classification example, same files and flags.

    python bench/bench_hf_example.py --hf_script PATH [--preset small] [--rounds 1]
        [--variants ours,hf,ours_nocache]
    python bench/bench_hf_example.py --report      # the table over every recorded run

PATH is `examples/pytorch/audio-classification/run_audio_classification.py` from the
transformers repository (BENCHMARKS.md names the commit measured); it is not part of this
project. It runs unchanged through `bench/hf_example_launcher.py`, which replaces only its
`evaluate.load("accuracy")` download with a local accuracy (this machine has no Hub).

Both train the same preset checkpoint (random weights, `configs/models/<preset>.json`) on the
same clips: the generated RAVDESS-size corpus of the learning benchmark (24 actors, speech,
1,440 clips of 1.0-1.6 s), our speaker split's training and validation clips, which the setup
(untimed) writes as an audiofolder of 16 kHz float WAVs decoded from our prepared dataset, so
both read the same samples. Same flags on both: one epoch (`--epochs N`), batch 8, CNN frozen,
fp32, CPU, plain AdamW, no loader workers, no gradient accumulation, the preset's crop length,
seed 42.
The example runs `--do_train` only (train + save, its own train-only run); ours is the whole
command (train with its per-epoch validation and checkpoint, final validation and test,
reports). `ours_nocache` is ours with `--feature_cache_gb 0` (the CNN every step and pass).

Each round runs the variants one after another, the order rotated every round, so on a shared
machine each sees the same load; ratios are taken within a round. Every run appends one JSON
line to hf_example_runs.jsonl in --output_dir; `--report` prints the per-round table and the
ratios (median and range over rounds).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.bench_support import RATE, cpu_seconds, make_corpus  # noqa: E402
from bench.hf_example_report import report  # noqa: E402
from data_scripts.corpora.ravdess.sample_archives import parse_actor_range  # noqa: E402

SECONDS = (1.0, 1.6)  # the learning benchmark's corpus
BATCH = 8
SEED = 42
CROP_SECONDS = {"tiny": 3.0, "small": 6.0}  # the presets' max_train_seconds
VARIANTS = ("ours", "hf", "ours_nocache")
RUNS_FILE = "hf_example_runs.jsonl"
# Our command logs this after its reports; the cache, how long its build took.
AFTER_LINE = re.compile(r"training ([\d.]+) s; after it \(validation, test, reports\) ([\d.]+) s")
CACHE_LINE = re.compile(r"CNN feature cache built in ([\d.]+) s")


def prepared_splits(data_dir: Path, cache_dir: Path):
    """Our prepared dataset and speaker split, as `ser-train` builds them (warms our cache)."""
    from training.arguments import parse_arguments
    from training.data.loading import load_prepared_dataset, split_for_training

    _, data_args, _ = parse_arguments(
        ["--model_path", "unused", "--data_dir", str(data_dir), "--vocal_channel", "speech",
         "--split", "speaker",
         "--cache_dir", str(cache_dir), "--output_dir", "unused", "--use_cpu", "true"]
    )  # fmt: skip
    dataset, record = load_prepared_dataset(data_args)
    splits, _ = split_for_training(dataset, data_args, record)
    return splits


def write_audiofolder(splits, folder: Path) -> None:
    """train/ and validation/ with one folder per emotion of 16 kHz float WAVs: the example's
    input (datasets' audiofolder), decoded from our prepared rows so both read the same
    samples."""
    import soundfile

    from training.data.batching import model_view

    # Rows are {"array", "sampling_rate"}: already decoded and resampled by our prepare.
    if (folder / "done").is_file():
        return
    shutil.rmtree(folder, ignore_errors=True)
    for name in ("train", "validation"):
        names = splits[name].features["label"].names
        for index, row in enumerate(model_view(splits[name])):
            target = folder / name / names[int(row["label"])] / f"{index:05d}.wav"
            target.parent.mkdir(parents=True, exist_ok=True)
            audio = row["audio"]
            assert audio["sampling_rate"] == RATE, audio["sampling_rate"]
            soundfile.write(target, np.asarray(audio["array"], np.float32), RATE, subtype="FLOAT")
    (folder / "done").write_text("complete\n")


def feature_extractor_folder(checkpoint: Path, folder: Path) -> Path:
    """Our feature extractor's settings for the checkpoint, saved where the example reads them
    (`--feature_extractor_name`): the checkpoint has no preprocessor_config.json."""
    from training.model.model_builder import build_feature_extractor

    extractor, _ = build_feature_extractor(str(checkpoint))
    extractor.save_pretrained(folder)
    return folder


def environment(output_dir: Path) -> dict:
    env = dict(os.environ, PYTHONUNBUFFERED="1", HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    env["HF_DATASETS_CACHE"] = str(output_dir / "hf_datasets_cache")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def common_flags(preset: str, epochs: int) -> list[str]:
    return [
        "--num_train_epochs", str(epochs), "--per_device_train_batch_size", str(BATCH),
        "--freeze_feature_encoder", "true", "--use_cpu", "true", "--bf16", "false",
        "--dataloader_num_workers", "0", "--optim", "adamw_torch", "--seed", str(SEED),
        "--gradient_accumulation_steps", "1", "--report_to", "none",
    ]  # fmt: skip


def command(variant: str, preset: str, paths: dict, run_dir: Path, args) -> list[str]:
    hf_script = args.hf_script
    crop = str(CROP_SECONDS[preset])
    if variant == "hf":
        return [
            sys.executable, str(REPO / "bench" / "hf_example_launcher.py"), str(hf_script),
            "--model_name_or_path", str(paths["checkpoint"]),
            "--feature_extractor_name", str(paths["extractor"]),
            "--dataset_name", str(paths["audiofolder"]), "--output_dir", str(run_dir),
            "--do_train", "--remove_unused_columns", "false", "--max_length_seconds", crop,
            *common_flags(preset, args.epochs),
        ]  # fmt: skip
    extra = ["--feature_cache_gb", "0"] if variant == "ours_nocache" else []
    return [
        str(Path(sys.executable).parent / "ser-train"),
        "--train_config", str(REPO / "configs" / "training" / f"{preset}.yaml"),
        "--model_path", str(paths["checkpoint"]), "--data_dir", str(paths["data_dir"]),
        "--vocal_channel", "speech", "--split", "speaker", "--cache_dir", str(paths["cache"]),
        "--output_dir", str(run_dir), "--max_train_seconds", crop,
        *common_flags(preset, args.epochs), *extra,
    ]  # fmt: skip


def run_once(variant: str, preset: str, paths: dict, args, round_index: int, order: int) -> dict:
    """One timed run in a fresh folder; its facts from the folder and log, then the folder is
    removed (checkpoints are large)."""
    run_dir = args.output_dir / f"run_{preset}_{variant}"
    shutil.rmtree(run_dir, ignore_errors=True)
    log_path = args.output_dir / f"log_{preset}_{variant}_round{round_index}.txt"
    load_before = os.getloadavg()[0]
    cpu_before = cpu_seconds()
    started_epoch, started = time.time(), time.perf_counter()
    with open(log_path, "w") as log:
        done = subprocess.run(
            command(variant, preset, paths, run_dir, args),
            cwd=args.output_dir, env=environment(args.output_dir), stdout=log, stderr=log,
        )  # fmt: skip
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{variant} failed (exit {done.returncode}); see {log_path}")
    facts = run_facts(run_dir, log_path.read_text())
    facts.update(
        preset=preset, variant=variant, actors=f"{args.actors[0]}-{args.actors[-1]}",
        round=round_index, order=order, epochs=args.epochs,
        started=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started_epoch)),
        wall_s=wall, cpu_s=cpu_seconds() - cpu_before,
        saved_model_s=(run_dir / "model.safetensors").stat().st_mtime - started_epoch,
        load_before=load_before, load_after=os.getloadavg()[0],
    )  # fmt: skip
    shutil.rmtree(run_dir, ignore_errors=True)
    return facts


def run_facts(run_dir: Path, log: str) -> dict:
    """The Trainer's own train numbers, the evaluation inside its training loop, and ours'
    logged split of the wall time."""
    train = json.loads((run_dir / "train_results.json").read_text())
    state = json.loads((run_dir / "trainer_state.json").read_text())
    in_training_eval = sum(e.get("eval_runtime", 0.0) for e in state["log_history"])
    facts = {
        "train_runtime_s": train["train_runtime"],
        "in_training_eval_s": in_training_eval,
        "steps": state["global_step"],
    }
    if match := AFTER_LINE.search(log):
        facts["training_s"], facts["after_training_s"] = float(match[1]), float(match[2])
    if match := CACHE_LINE.search(log):
        facts["cache_build_s"] = float(match[1])
    return facts


def padded_seconds(lengths: np.ndarray, crop: float, epochs: int = 50) -> dict:
    """Audio seconds one epoch's batches carry with padding (each batch padded to its longest
    clip), averaged over `epochs` shuffles: random batches (the example: the Trainer's random
    sampler) and length-grouped ones (ours: the Trainer's `group_by_length` sampler)."""
    import torch
    from transformers.trainer_pt_utils import get_length_grouped_indices

    lengths = np.minimum(lengths, int(crop * RATE))

    def padded(order) -> float:
        batches = [lengths[order[i : i + BATCH]] for i in range(0, len(order), BATCH)]
        return sum(len(b) * b.max() for b in batches) / RATE

    rng, generator = np.random.default_rng(0), torch.Generator().manual_seed(0)
    grouped = [get_length_grouped_indices(lengths.tolist(), BATCH, generator=generator)]
    grouped += [
        get_length_grouped_indices(lengths.tolist(), BATCH, generator=generator)
        for _ in range(epochs - 1)
    ]
    return {
        "real": float(lengths.sum() / RATE),
        "random_batches": float(
            np.mean([padded(rng.permutation(len(lengths))) for _ in range(epochs)])
        ),
        "length_grouped": float(np.mean([padded(np.asarray(o)) for o in grouped])),
    }


def setup(args) -> dict:
    """Everything outside the timed runs: corpus, checkpoint, our cache, the audiofolder, the
    example's datasets cache."""
    from training.demo.stand_in_checkpoint import write_ctc_checkpoint

    out = args.output_dir
    data_dir = make_corpus(out, args.actors, SECONDS)
    checkpoint = out / f"checkpoint_{args.preset}"
    if not (checkpoint / "model.safetensors").is_file():
        write_ctc_checkpoint(REPO / "configs" / "models" / f"{args.preset}.json", checkpoint)
    cache = out / "ours_cache"
    splits = prepared_splits(data_dir, cache)
    audiofolder = out / f"audiofolder_{data_dir.name}"
    write_audiofolder(splits, audiofolder)
    warm = (
        "import datasets, sys; "
        "[datasets.load_dataset(sys.argv[1], split=s) for s in ('train', 'validation')]"
    )
    subprocess.run(
        [sys.executable, "-c", warm, str(audiofolder)], env=environment(out), check=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    sizes = {name: len(splits[name]) for name in ("train", "validation", "test")}
    lengths = np.asarray(splits["train"]["length"])
    (out / f"setup_{args.preset}.json").write_text(
        json.dumps(
            {
                "corpus": data_dir.name,
                "sizes": sizes,
                "padded": padded_seconds(lengths, CROP_SECONDS[args.preset]),
            }
        )
    )
    return {
        "data_dir": data_dir,
        "checkpoint": checkpoint,
        "extractor": feature_extractor_folder(checkpoint, out / f"extractor_{args.preset}"),
        "cache": cache,
        "audiofolder": audiofolder,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hf_script", type=Path, help="run_audio_classification.py")
    parser.add_argument("--preset", choices=sorted(CROP_SECONDS), default="small")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument(
        "--epochs", type=int, default=1, help="epochs of every run (the cache pays from the 2nd)"
    )
    parser.add_argument(
        "--actors", type=parse_actor_range, default=list(range(1, 25)), help="e.g. 1-8"
    )
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--first_round", type=int, default=0, help="rotation of the first round")
    parser.add_argument("--output_dir", type=Path, default=REPO / "bench_output" / "hf_example")
    parser.add_argument("--report", action="store_true", help="print the table and stop")
    args = parser.parse_args(argv)
    args.output_dir = args.output_dir.resolve()
    args.output_dir.mkdir(parents=True, exist_ok=True)
    runs_file = args.output_dir / RUNS_FILE
    if args.report:
        print(report(runs_file, args.output_dir))
        return 0
    if args.hf_script is None or not args.hf_script.is_file():
        parser.error("--hf_script: give the path of the example's run_audio_classification.py")
    args.hf_script = args.hf_script.resolve()
    variants = args.variants.split(",")
    paths = setup(args)
    for round_index in range(args.first_round, args.first_round + args.rounds):
        shift = round_index % len(variants)
        for order, variant in enumerate(variants[shift:] + variants[:shift]):
            facts = run_once(variant, args.preset, paths, args, round_index, order)
            with open(runs_file, "a") as runs:
                runs.write(json.dumps(facts) + "\n")
            print(json.dumps(facts), flush=True)
    print(report(runs_file, args.output_dir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
