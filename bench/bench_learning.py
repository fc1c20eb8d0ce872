"""Learning benchmark: does the fixed recipe still learn? Judged from outside, over seeds.

    python bench/bench_learning.py [--seeds 0,1,2] [--epochs 8] [--jobs 2] [--repo DIR]
        [--archive_dir DIR]   # any RAVDESS-format archives instead of the generated corpus

The learning recipe on a generated RAVDESS-size corpus (24 actors, speech only, 1,440 files,
48 kHz): a random `Wav2Vec2ForCTC` (hidden 96, 3 layers, conv 64 x 5) saved as
pytorch_model.bin + config.json, trained by the training command exactly as a user runs it (a
subprocess), once per seed. Each saved model is then scored by `bench/pipeline_judge.py` in a
fresh process that does not import the project: `pipeline("audio-classification")`, one test
clip at a time. Prints per-seed accuracy / UAR / macro-F1 with each run's 95 % speaker-clustered
interval (from the judged per-file answers, so older checkouts get one too) and the smallest
accuracy difference its test set resolves, their mean and std, minutes per run, and writes
learning_bench.json to --output_dir. Mean ± std over seeds says how much a rerun moves; the
interval says how much the test speakers alone could move one run.

`--repo` runs another checkout's training command on the same corpus and checkpoint (e.g. a git
worktree of an older commit), so two commits are compared on identical inputs. `--jobs` runs
seeds side by side, each with cores/jobs threads: on a 2-core CPU two single-thread runs finish
sooner than two two-thread runs one after the other. Rerun whenever training, the collator, the
model code or the decoder changes, and put the numbers in BENCHMARKS.md with the commit.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.bench_support import make_corpus  # noqa: E402
from data_scripts.common.atomic_write import write_json_atomic  # noqa: E402
from data_scripts.corpora.ravdess.download import download_and_map  # noqa: E402
from training.reports.intervals import bootstrap_intervals  # noqa: E402
from training.reports.paired_comparison import smallest_resolvable_difference  # noqa: E402

ACTORS = list(range(1, 25))
SECONDS = (1.0, 1.6)  # the sample archives' default clip lengths
METRICS = ("accuracy", "uar", "macro_f1")
# The recipe's checkpoint: a small random wav2vec2 with a group-normalised CNN (wav2vec2-base's).
CHECKPOINT_CONFIG = dict(
    hidden_size=96,
    num_hidden_layers=3,
    num_attention_heads=4,
    intermediate_size=192,
    conv_dim=(64,) * 5,
    conv_stride=(5, 4, 2, 2, 2),
    conv_kernel=(10, 8, 4, 4, 4),
    feat_extract_norm="group",
    mask_time_prob=0.0,
    layerdrop=0.0,
    classifier_proj_size=96,
)


def corpus_from(archive_dir: Path | None, output_dir: Path) -> Path:
    """The generated corpus, or the given archives extracted and mapped by the real code."""
    if archive_dir is None:
        return make_corpus(output_dir, ACTORS, SECONDS)
    data_dir = output_dir / f"data_{archive_dir.resolve().name}"
    if not (data_dir / "emotional_data_mappings.csv").is_file():
        download_and_map(data_dir, archive_dir=archive_dir, verify=False)
    return data_dir


def write_checkpoint(directory: Path) -> Path:
    """The random CTC checkpoint (torch.manual_seed(0)); reused if there."""
    if not (directory / "pytorch_model.bin").is_file():
        import torch
        from transformers import Wav2Vec2Config, Wav2Vec2ForCTC

        torch.manual_seed(0)
        config = Wav2Vec2Config(**CHECKPOINT_CONFIG)
        directory.mkdir(parents=True, exist_ok=True)
        torch.save(Wav2Vec2ForCTC(config).state_dict(), directory / "pytorch_model.bin")
        config.save_pretrained(directory)
    return directory


def train_command(repo: Path, checkpoint: Path, data_dir: Path, run_dir: Path, seed: int, args):
    return [
        sys.executable, str(repo / "training" / "wav2vec2_classification.py"),
        "--config_path", str(checkpoint / "config.json"),
        "--model_path", str(checkpoint / "pytorch_model.bin"),
        "--data_dir", str(data_dir), "--vocal_channel", "speech", "--split", "speaker",
        "--num_train_epochs", str(args.epochs), "--learning_rate", "1e-3",
        "--per_device_train_batch_size", "16", "--freeze_feature_encoder", "false",
        "--seed", str(seed), "--output_dir", str(run_dir),
        "--cache_dir", str(args.output_dir / f"cache_{repo.name}"),
        *shlex.split(args.extra),
    ]  # fmt: skip


def environment(repo: Path, threads: int) -> dict:
    env = dict(os.environ, PYTHONUNBUFFERED="1", TOKENIZERS_PARALLELISM="false")
    env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    env.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    env["PYTHONPATH"] = str(repo)  # the checkout's own packages, not an editable install's
    return env


def run_seed(seed: int, repo: Path, checkpoint: Path, data_dir: Path, args, threads: int) -> dict:
    """Train one seed as a user does, then judge the saved model in a fresh process."""
    run_dir = args.output_dir / f"run_{repo.name}_seed{seed}"
    command = train_command(repo, checkpoint, data_dir, run_dir, seed, args)
    env = environment(repo, threads)
    started = time.perf_counter()
    with open(args.output_dir / f"{run_dir.name}.log", "w") as log:
        subprocess.run(command, cwd=repo, env=env, stdout=log, stderr=log, check=True)
    train_minutes = (time.perf_counter() - started) / 60
    judge_env = environment(repo, threads)
    judge_env.pop("PYTHONPATH")  # the judge must not see the project
    judged = subprocess.run(
        [sys.executable, str(REPO / "bench" / "pipeline_judge.py"), str(run_dir), str(data_dir)],
        cwd=args.output_dir, env=judge_env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    result = json.loads(judged.stdout.strip().splitlines()[-1])
    reported = json.loads((run_dir / "test_results.json").read_text())
    return {
        "seed": seed,
        **result,
        **judged_uncertainty(result),
        "reported_accuracy": reported.get("test_accuracy"),
        "train_minutes": train_minutes,
        "minutes": (time.perf_counter() - started) / 60,
    }


def judged_uncertainty(judged: dict) -> dict:
    """The accuracy interval (test actors resampled) and the smallest resolvable accuracy
    difference of one run, from the judge's per-file answers."""
    answers = judged.get("answers")
    if not answers:
        return {}
    files = sorted(answers)
    truth = [answers[f]["true"] for f in files]
    names = sorted(set(truth) | {answers[f]["predicted"] for f in files})
    ids = {name: i for i, name in enumerate(names)}
    speakers = np.array([answers[f]["actor"] for f in files])
    correct = np.array([answers[f]["true"] == answers[f]["predicted"] for f in files])
    intervals = bootstrap_intervals(
        [ids[t] for t in truth], [ids[answers[f]["predicted"]] for f in files], speakers, names
    )
    accuracy = intervals["metrics"]["accuracy"]
    return {
        "accuracy_low": accuracy["low"],
        "accuracy_high": accuracy["high"],
        "test_speakers": intervals["speakers"],
        "resolvable_difference": smallest_resolvable_difference(correct, speakers),
    }


def summarize(runs: list[dict]) -> dict:
    return {
        name: {
            "mean": float(np.mean([run[name] for run in runs])),
            "std": float(np.std([run[name] for run in runs], ddof=1)) if len(runs) > 1 else 0.0,
            "min": float(np.min([run[name] for run in runs])),
        }
        for name in (*METRICS, "minutes")
    }


def table(runs: list[dict], summary: dict) -> str:
    lines = [
        "| seed | accuracy [95 % interval] | UAR | macro-F1 | resolves | reported acc. | minutes |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for run in runs:
        reported = run["reported_accuracy"]
        interval = (
            f" [{run['accuracy_low']:.3f}, {run['accuracy_high']:.3f}]"
            if "accuracy_low" in run
            else ""
        )
        resolves = run.get("resolvable_difference")
        lines.append(
            f"| {run['seed']} | {run['accuracy']:.3f}{interval} | {run['uar']:.3f} "
            f"| {run['macro_f1']:.3f} | {'-' if resolves is None else f'{resolves:.3f}'} "
            f"| {'-' if reported is None else f'{reported:.3f}'} | {run['minutes']:.1f} |"
        )
    lines.append(
        "| mean ± std | "
        + " | ".join(f"{summary[m]['mean']:.3f} ± {summary[m]['std']:.3f}" for m in METRICS)
        + f" | | | {summary['minutes']['mean']:.1f} |"
    )
    lines.append(
        "\nresolves: the smallest accuracy difference the run's test set resolves (80 % power, "
        "paired speaker-clustered bootstrap); intervals resample the test speakers."
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output_dir", type=Path, default=REPO / "bench_output" / "learning")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--epochs", type=float, default=8)
    parser.add_argument("--jobs", type=int, default=2, help="seeds trained side by side")
    parser.add_argument("--repo", type=Path, default=REPO, help="checkout whose training runs")
    parser.add_argument("--extra", default="", help="extra training flags (one string)")
    parser.add_argument(
        "--archive_dir",
        type=Path,
        help="RAVDESS-format archives (Audio_Speech_Actors_01-24.zip, ...) to learn on instead "
        "of the generated corpus; not checked against the official checksums",
    )
    args = parser.parse_args(argv)
    args.output_dir = args.output_dir.resolve()
    args.output_dir.mkdir(parents=True, exist_ok=True)
    repo = args.repo.resolve()
    seeds = [int(seed) for seed in args.seeds.split(",")]

    started = time.perf_counter()
    data_dir = corpus_from(args.archive_dir, args.output_dir)
    checkpoint = write_checkpoint(args.output_dir / "checkpoint")
    threads = max(1, (os.cpu_count() or 1) // args.jobs)
    with ThreadPoolExecutor(args.jobs) as pool:
        runs = list(
            pool.map(lambda s: run_seed(s, repo, checkpoint, data_dir, args, threads), seeds)
        )
    summary = summarize(runs)
    commit = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    result = {
        "commit": commit,
        "repo": str(repo),
        "epochs": args.epochs,
        "extra": args.extra,
        "archive_dir": str(args.archive_dir) if args.archive_dir else None,
        "jobs": args.jobs,
        "threads_per_job": threads,
        "runs": runs,
        "summary": summary,
        "total_minutes": (time.perf_counter() - started) / 60,
    }
    print(f"learning benchmark, commit {commit}, {args.epochs:g} epochs, seeds {seeds}")
    print(table(runs, summary))
    print(f"total {result['total_minutes']:.1f} min ({args.jobs} jobs x {threads} threads)")
    write_json_atomic(args.output_dir / f"learning_bench_{repo.name}.json", result)
    return result


if __name__ == "__main__":
    main()
