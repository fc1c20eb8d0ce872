"""Robustness benchmark: training with and without the default augmentation (--augment), over
seeds, each saved model then scored clean and under every evaluation condition.

    python bench/bench_robustness.py [--actors 1-8] [--seeds 0,1,2] [--epochs 3] [--jobs 6]

The learning benchmark's recipe (bench/bench_learning.py: its random CTC checkpoint, learning
rate, batch size, unfrozen CNN) on a generated RAVDESS-layout corpus of --actors (speech only),
trained by the training command in a subprocess as a user runs it, then `ser-evaluate
--conditions` (a subprocess too) on each run's test split. Prints one table (mean ± std over
seeds of accuracy per condition, with and without augmentation) and writes
robustness_bench.json to --output_dir.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.bench_learning import SECONDS, environment, write_checkpoint  # noqa: E402
from bench.bench_support import make_corpus  # noqa: E402
from data_scripts.common.atomic_write import write_json_atomic  # noqa: E402
from data_scripts.corpora.ravdess.sample_archives import parse_actor_range  # noqa: E402

CONDITIONS = "clean,noise@20,noise@10,noise@5,reverb,telephone,mp3@32k"
SETTINGS = {"plain": [], "augment": ["--augment", "true"]}


def prepared(data_dir: Path, output_dir: Path) -> Path:
    """The speech files saved as a prepared dataset (what ser-evaluate reads); reused."""
    folder = output_dir / "prepared_speech"
    if not (folder / "dataset_info.json").is_file():
        from data_scripts.corpora.ravdess.builder import build_ravdess

        dataset = build_ravdess(data_dir=data_dir, config="speech", cache_dir=output_dir / "cache")
        dataset.save_to_disk(str(folder))
    return folder


def run_one(setting: str, seed: int, checkpoint: Path, dataset: Path, args) -> dict:
    """Train one seed with or without augmentation, then evaluate every condition."""
    run_dir = args.output_dir / f"run_{setting}_seed{seed}"
    env = environment(REPO, 1)
    train = [
        sys.executable, str(REPO / "training" / "wav2vec2_classification.py"),
        "--config_path", str(checkpoint / "config.json"),
        "--model_path", str(checkpoint / "pytorch_model.bin"),
        "--dataset_dir", str(dataset), "--split", "speaker",
        "--num_train_epochs", str(args.epochs), "--learning_rate", "1e-3",
        "--per_device_train_batch_size", "16", "--freeze_feature_encoder", "false",
        "--seed", str(seed), "--output_dir", str(run_dir), *SETTINGS[setting],
    ]  # fmt: skip
    evaluate = [
        sys.executable, "-m", "training.cross_corpus", "--model_dir", str(run_dir),
        "--dataset_dir", str(dataset), "--conditions", CONDITIONS, "--batch_size", "16",
    ]  # fmt: skip
    started = time.perf_counter()
    with open(args.output_dir / f"{run_dir.name}.log", "w") as log:
        if not (run_dir / "test_predictions.csv").is_file():
            if any(run_dir.glob("checkpoint-*")):  # an interrupted benchmark: go on from there
                train += ["--resume_from_checkpoint", "true"]
            subprocess.run(train, cwd=REPO, env=env, stdout=log, stderr=log, check=True)
        trained = time.perf_counter()
        subprocess.run(evaluate, cwd=REPO, env=env, stdout=log, stderr=log, check=True)
    report = json.loads((run_dir / "robustness" / "ravdess" / "robustness.json").read_text())
    return {
        "setting": setting,
        "seed": seed,
        "accuracy": {c["condition"]: c["shared_classes"]["accuracy"] for c in report["conditions"]},
        "uar": {c["condition"]: c["shared_classes"]["uar"] for c in report["conditions"]},
        "test_files": report["conditions"][0]["scored_files"],
        "train_minutes": (trained - started) / 60,
        "evaluate_minutes": (time.perf_counter() - trained) / 60,
    }


def summary_table(runs: list[dict], metric: str) -> str:
    conditions = CONDITIONS.split(",")
    lines = [
        "| condition | " + " | ".join(f"{s} ({metric})" for s in SETTINGS) + " | difference |",
        "|---|" + "---:|" * (len(SETTINGS) + 1),
    ]
    for condition in conditions:
        cells, means = [], []
        for setting in SETTINGS:
            values = [run[metric][condition] for run in runs if run["setting"] == setting]
            std = np.std(values, ddof=1) if len(values) > 1 else 0.0
            cells.append(f"{np.mean(values):.3f} ± {std:.3f}")
            means.append(np.mean(values))
        lines.append(f"| {condition} | " + " | ".join(cells) + f" | {means[1] - means[0]:+.3f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output_dir", type=Path, default=REPO / "bench_output" / "robustness")
    parser.add_argument("--actors", default="1-8")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--epochs", type=float, default=3)
    parser.add_argument("--jobs", type=int, default=6, help="runs side by side, 1 thread each")
    args = parser.parse_args(argv)
    args.output_dir = args.output_dir.resolve()
    args.output_dir.mkdir(parents=True, exist_ok=True)
    seeds = [int(seed) for seed in args.seeds.split(",")]
    started = time.perf_counter()
    data_dir = make_corpus(args.output_dir, parse_actor_range(args.actors), SECONDS)
    dataset = prepared(data_dir, args.output_dir)
    checkpoint = write_checkpoint(args.output_dir / "checkpoint")
    jobs = [(setting, seed) for seed in seeds for setting in SETTINGS]
    with ThreadPoolExecutor(args.jobs) as pool:
        runs = list(pool.map(lambda job: run_one(*job, checkpoint, dataset, args), jobs))
    commit = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    result = {
        "commit": commit,
        "actors": args.actors,
        "epochs": args.epochs,
        "conditions": CONDITIONS,
        "runs": runs,
        "total_minutes": (time.perf_counter() - started) / 60,
    }
    print(f"robustness benchmark, commit {commit}, actors {args.actors}, {args.epochs:g} epochs")
    print(summary_table(runs, "accuracy"))
    print(summary_table(runs, "uar"))
    print(f"total {result['total_minutes']:.1f} min")
    write_json_atomic(args.output_dir / "robustness_bench.json", result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
