"""Robustness benchmark: training with and without the default augmentation (--augment), over
seeds, each saved model then scored clean and under every evaluation condition, and on another
corpus.

    python bench/bench_robustness.py [--actors 1-24] [--seeds 0,1,2] [--epochs 3]

The learning benchmark's recipe (bench/bench_learning.py: its random CTC checkpoint, learning
rate, batch size, unfrozen CNN) on the generated RAVDESS-size corpus (24 actors, speech only,
prepared by ser-prepare), trained by the training command in a subprocess as a user runs it,
one run at a time (seeds interleaved: plain, augmented, next seed), then in subprocesses too:
`ser-evaluate --conditions` on the run's test split, and `ser-evaluate` on a generated
CREMA-D-layout corpus of other speakers (cross-corpus, clean). Prints one table per metric
(mean ± std over seeds, with and without augmentation) and writes robustness_bench.json to
--output_dir after every run, so an interrupted benchmark keeps what it finished (and a rerun
goes on from there).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
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
CROSS = "cross_corpus_crema_d"
# The other corpus: CREMA-D's names and layout, speakers 1001-1012 (not RAVDESS's actors), its
# six emotions, three sentences each, 16 kHz, longer clips than the RAVDESS sample's.
CREMA_ACTORS = range(1001, 1013)
CREMA_SENTENCES = ("DFA", "IEO", "TIE")
CREMA_SECONDS = (1.5, 2.5)


def prepare(arguments: list[str], folder: Path, output_dir: Path) -> Path:
    """ser-prepare's builder into `folder` (reused when there)."""
    if not (folder / "dataset_info.json").is_file():
        from data_scripts.corpora.prepare import main as prepare_main

        flags = ["--output_dir", str(folder), "--cache_dir", str(output_dir / "cache")]
        if prepare_main([*arguments, *flags]) != 0:
            raise SystemExit(f"ser-prepare {' '.join(arguments)} failed")
    return folder


def crema_layout_corpus(output_dir: Path) -> Path:
    """Generated voices under CREMA-D's file names (ACTOR_SENTENCE_EMOTION_LEVEL.wav)."""
    from data_scripts.corpora.crema_d import EMOTION_CODES
    from data_scripts.corpora.ravdess.sample_archives import write_voice_file

    folder = output_dir / "crema_d_layout" / "AudioWAV"
    for actor in CREMA_ACTORS:
        for code, emotion in EMOTION_CODES.items():
            for sentence in CREMA_SENTENCES:
                path = folder / f"{actor}_{sentence}_{code}_XX.wav"
                if not path.is_file():
                    write_voice_file(path, emotion, actor % 2 == 1, actor, sampling_rate=16_000,
                                     seconds=CREMA_SECONDS)  # fmt: skip
    return folder.parent


def accuracies(results: dict) -> dict:
    shared = results["shared_classes"]
    return {"accuracy": shared["accuracy"], "uar": shared["uar"]}


def run_one(setting: str, seed: int, checkpoint: Path, data: dict, args) -> dict:
    """Train one seed with or without augmentation, then evaluate every condition and the
    other corpus."""
    run_dir = args.output_dir / f"run_{setting}_seed{seed}"
    env = environment(REPO, args.threads)
    train = [
        sys.executable, str(REPO / "training" / "wav2vec2_classification.py"),
        "--config_path", str(checkpoint / "config.json"),
        "--model_path", str(checkpoint / "pytorch_model.bin"),
        "--dataset_dir", str(data["ravdess"]), "--split", "speaker",
        "--num_train_epochs", str(args.epochs), "--learning_rate", "1e-3",
        "--per_device_train_batch_size", "16", "--freeze_feature_encoder", "false",
        "--seed", str(seed), "--output_dir", str(run_dir),
        "--cache_dir", str(args.output_dir / "cache"), *SETTINGS[setting],
    ]  # fmt: skip
    evaluate = [sys.executable, "-m", "training.evaluation.cross_corpus",
                "--model_dir", str(run_dir), "--batch_size", "16", "--overwrite"]  # fmt: skip
    started = time.perf_counter()
    with open(args.output_dir / f"{run_dir.name}.log", "a") as log:
        if not (run_dir / "test_predictions.csv").is_file():
            if any(run_dir.glob("checkpoint-*")):  # an interrupted benchmark: go on from there
                train += ["--resume_from_checkpoint", "true"]
            subprocess.run(train, cwd=REPO, env=env, stdout=log, stderr=log, check=True)
        trained = time.perf_counter()
        for extra in (
            ["--dataset_dir", str(data["ravdess"]), "--conditions", CONDITIONS],
            ["--dataset_dir", str(data["crema_d"]), "--output_dir", str(run_dir / CROSS)],
        ):
            subprocess.run(evaluate + extra, cwd=REPO, env=env, stdout=log, stderr=log, check=True)
    report = json.loads((run_dir / "robustness" / "ravdess" / "robustness.json").read_text())
    cross = json.loads((run_dir / CROSS / "cross_corpus" / "crema_d" / "results.json").read_text())
    conditions = {c["condition"]: accuracies(c) for c in report["conditions"]}
    return {
        "setting": setting,
        "seed": seed,
        "accuracy": {name: value["accuracy"] for name, value in conditions.items()}
        | {"crema_d": cross["shared_classes"]["accuracy"]},
        "uar": {name: value["uar"] for name, value in conditions.items()}
        | {"crema_d": cross["shared_classes"]["uar"]},
        "test_files": report["conditions"][0]["scored_files"],
        "crema_d_files": cross["scored_files"],
        "train_minutes": (trained - started) / 60,
        "evaluate_minutes": (time.perf_counter() - trained) / 60,
    }


def summary_table(runs: list[dict], metric: str) -> str:
    rows = [*CONDITIONS.split(","), "crema_d"]
    lines = [
        "| condition | " + " | ".join(f"{s} ({metric})" for s in SETTINGS) + " | difference |",
        "|---|" + "---:|" * (len(SETTINGS) + 1),
    ]
    for condition in rows:
        cells, means = [], []
        for setting in SETTINGS:
            values = [run[metric][condition] for run in runs if run["setting"] == setting]
            if not values:
                cells.append("-")
                means.append(np.nan)
                continue
            std = np.std(values, ddof=1) if len(values) > 1 else 0.0
            cells.append(f"{np.mean(values):.3f} ± {std:.3f} (n={len(values)})")
            means.append(np.mean(values))
        lines.append(f"| {condition} | " + " | ".join(cells) + f" | {means[1] - means[0]:+.3f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output_dir", type=Path, default=REPO / "bench_output" / "robustness")
    parser.add_argument("--actors", default="1-24")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--epochs", type=float, default=3)
    parser.add_argument("--threads", type=int, default=2, help="torch threads of each run")
    args = parser.parse_args(argv)
    args.output_dir = args.output_dir.resolve()
    args.output_dir.mkdir(parents=True, exist_ok=True)
    seeds = [int(seed) for seed in args.seeds.split(",")]
    started = time.perf_counter()
    data_dir = make_corpus(args.output_dir, parse_actor_range(args.actors), SECONDS)
    data = {
        "ravdess": prepare(["--corpus", "ravdess", "--data_dir", str(data_dir), "--config",
                            "speech"], args.output_dir / "prepared_ravdess", args.output_dir),
        "crema_d": prepare(["--corpus", "crema_d", "--data_dir",
                            str(crema_layout_corpus(args.output_dir))],
                           args.output_dir / "prepared_crema_d", args.output_dir),
    }  # fmt: skip
    checkpoint = write_checkpoint(args.output_dir / "checkpoint")
    commit = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    result = {"commit": commit, "actors": args.actors, "epochs": args.epochs,
              "conditions": CONDITIONS, "runs": []}  # fmt: skip
    for seed in seeds:
        for setting in SETTINGS:
            run = run_one(setting, seed, checkpoint, data, args)
            result["runs"].append(run)
            result["total_minutes"] = (time.perf_counter() - started) / 60
            write_json_atomic(args.output_dir / "robustness_bench.json", result)
            print(f"{setting} seed {seed}: {json.dumps(run['accuracy'])}", flush=True)
    print(f"robustness benchmark, commit {commit}, actors {args.actors}, {args.epochs:g} epochs")
    print(summary_table(result["runs"], "accuracy"))
    print(summary_table(result["runs"], "uar"))
    print(f"total {result['total_minutes']:.1f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())
