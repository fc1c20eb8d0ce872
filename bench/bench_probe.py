"""Benchmark of frozen-encoder probing with cached per-layer means against the audio path.

In one run, on CPU, with the small preset (configs/models/small.json, random weights):
- one pass of feature extraction over a corpus (the cache build: every clip through the encoder
  once, one clip at a time), then a 20-epoch probe on the cached features, through the real
  training command (`main`), against one epoch (train + validation) of the same probe on audio
  (`--cache_frozen_features false`), extrapolated to 20 epochs;
- a 6-fold `--cv_folds emobox` probe on the cache, beside one pass over its audio;
- peak memory of the cache build for two corpus sizes (separate processes).

    python bench/bench_probe.py                  # subsets of a RAVDESS-size corpus (see --help)
    python bench/bench_probe.py --probe_actors 1-2 --cv_statements 1 --epochs 2   # a quick look

The corpus (all 24 actors, 2452 files of 3-5 s) is generated as bench/bench_prepare.py does, into
--output_dir (git-ignored), and reused.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import datasets
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_support import PeriodicSampler, make_corpus  # noqa: E402

from data_scripts.corpora.ravdess.sample_archives import parse_actor_range  # noqa: E402
from data_scripts.corpora.ravdess_corpus import build_ravdess  # noqa: E402
from training.demo.stand_in_checkpoint import write_ctc_checkpoint  # noqa: E402
from training.model.model_builder import build_classifier, build_feature_extractor  # noqa: E402
from training.probing.frozen_features import cached_pooled_features  # noqa: E402
from training.wav2vec2_classification import main as train_main  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
SMALL_MODEL = REPO / "configs" / "models" / "small.json"
SMALL_PRESET = REPO / "configs" / "training" / "small.yaml"
# The probe's speed targets.
MIN_PROBE_SPEEDUP = 10.0
# The preset is tuned for a GPU; these make it run on a CPU without changing what it computes.
CPU_FLAGS = (
    "--use_cpu", "true", "--dataloader_num_workers", "0", "--dataloader_pin_memory", "false",
    "--optim", "adamw_torch", "--report_to", "none", "--save_total_limit", "1",
    "--disable_tqdm", "true", "--logging_steps", "50",
)  # fmt: skip


class MemorySampler(PeriodicSampler):
    """Peak VmRSS and RssAnon of this process, sampled from /proc/self/status in a thread.

    RSS counts the memory-mapped Arrow pages that reading the audio touches (file-backed, given
    back under pressure); RssAnon is the memory the process itself holds."""

    def __init__(self, every: float = 0.05):
        super().__init__(every)
        self.peak = {"VmRSS": 0, "RssAnon": 0}

    def sample(self) -> None:
        for line in Path("/proc/self/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in self.peak:
                self.peak[key] = max(self.peak[key], int(value.split()[0]) * 1024)


def prepared_subsets(root: Path, probe_actors: list[int], cv_statements: list[int]) -> dict:
    """The full corpus (24 actors, speech and song, 3-5 s), and two saved subsets of it: the
    probe corpus (all files of `probe_actors`) and the CV corpus (speech of all 24 actors,
    `cv_statements`, first repetition only)."""
    data_dir = make_corpus(root, list(range(1, 25)), (3.0, 5.0))
    full = build_ravdess(data_dir=data_dir, cache_dir=root / "hf_cache")
    subsets = {
        "probe": full.filter(lambda actor: actor in probe_actors, input_columns="actor"),
        "cv": full.filter(
            lambda channel, statement, repetition: (
                channel == "speech" and statement in cv_statements and repetition == 1
            ),
            input_columns=["vocal_channel", "statement", "repetition"],
        ),
    }
    paths = {}
    for name, subset in subsets.items():
        path = root / f"prepared_{name}_{len(subset)}"
        if not path.is_dir():
            subset.save_to_disk(str(path))
        paths[name] = path
    return {"full_clips": len(full), **paths}


def extraction_pass(weights: Path, dataset_dir: Path, cache_dir: Path, limit: int | None = None):
    """One pass over the audio: build the feature cache (fresh `cache_dir`); seconds and clips."""
    model, _ = build_classifier(str(weights), pooling="weighted_layers")
    extractor, _ = build_feature_extractor(str(weights))
    dataset = datasets.load_from_disk(str(dataset_dir))
    if limit:
        dataset = dataset.select(range(limit))
    seconds_of_audio = float(sum(dataset["length"])) / 16_000
    start, cpu = time.perf_counter(), time.process_time()
    cached = cached_pooled_features(model, extractor, dataset, cache_dir)
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    if cached.computed_now != len(dataset):
        raise RuntimeError(f"{cache_dir} was not fresh: {cached.computed_now} clips computed")
    return {
        "seconds": elapsed,
        "cpu_seconds": cpu,
        "clips": len(dataset),
        "audio_seconds": seconds_of_audio,
    }


CPU_SECONDS: dict[str, float] = {}


def timed_training(flags: list[str], name: str) -> float:
    """Wall seconds of one training command; its CPU seconds (all threads of this process,
    which moves less than wall time when other jobs share the cores) go to CPU_SECONDS."""
    start, cpu = time.perf_counter(), time.process_time()
    train_main(flags)
    CPU_SECONDS[name] = time.process_time() - cpu
    return time.perf_counter() - start


def memory_only(weights: Path, dataset_dir: Path, cache_dir: Path, limit: int) -> None:
    with MemorySampler() as memory:
        result = extraction_pass(weights, dataset_dir, cache_dir, limit)
    result.update(peak_rss=memory.peak["VmRSS"], peak_anon=memory.peak["RssAnon"])
    print("MEMORY " + json.dumps(result))


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--output_dir", default="bench_output")
    parser.add_argument("--probe_actors", default="1-4", help="actors of the probe corpus")
    parser.add_argument("--cv_statements", default="1", help="statements (1,2) in the CV corpus")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--memory_sizes", default="50,200", help="clips of the two memory runs")
    parser.add_argument("--skip", default="", help="comma-separated stages to skip: cv,memory")
    parser.add_argument("--memory_only", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    root = Path(args.output_dir).resolve()
    root.mkdir(parents=True, exist_ok=True)
    stamp = f"{time.time_ns()}"
    weights = root / "small_checkpoint" / "model.safetensors"
    if not weights.is_file():
        write_ctc_checkpoint(SMALL_MODEL, weights.parent, "safetensors", seed=0)
    data = prepared_subsets(
        root, parse_actor_range(args.probe_actors), parse_actor_range(args.cv_statements)
    )
    if args.memory_only:
        memory_only(weights, data["probe"], root / f"cache_memory_{stamp}", args.memory_only)
        return {}

    common = [
        "--train_config", str(SMALL_PRESET), "--model_path", str(weights),
        "--freeze_encoder", "true", "--num_train_epochs", str(args.epochs), *CPU_FLAGS,
    ]  # fmt: skip
    results = {"full_corpus_clips": data["full_clips"]}
    # 1. One pass over the probe corpus's audio, then the 20-epoch probe on the cache.
    probe_cache = root / f"cache_probe_{stamp}"
    results["probe_extraction"] = extraction_pass(weights, data["probe"], probe_cache)
    cached_dir = root / f"run_cached_{stamp}"
    results["probe_cached_run_seconds"] = timed_training(
        [*common, "--dataset_dir", str(data["probe"]), "--cache_dir", str(probe_cache),
         "--output_dir", str(cached_dir)], "probe_cached"
    )  # fmt: skip
    results["probe_cached_train_runtime"] = json.loads(
        (cached_dir / "train_results.json").read_text()
    )["train_runtime"]
    print("PARTIAL " + json.dumps(results), flush=True)
    # 2. The same probe on audio, one epoch (train + validation), extrapolated.
    uncached_dir = root / f"run_uncached_{stamp}"
    results["probe_uncached_one_epoch_run_seconds"] = timed_training(
        [*common, "--dataset_dir", str(data["probe"]), "--cache_dir", str(probe_cache),
         "--output_dir", str(uncached_dir), "--cache_frozen_features", "false",
         "--num_train_epochs", "1"], "probe_uncached_one_epoch"
    )  # fmt: skip
    results["probe_uncached_one_epoch_train_runtime"] = json.loads(
        (uncached_dir / "train_results.json").read_text()
    )["train_runtime"]
    print("PARTIAL " + json.dumps(results), flush=True)
    results["cpu_seconds"] = CPU_SECONDS
    if "cv" in args.skip:
        print("RESULTS " + json.dumps(results))
        return results
    # 3. EmoBox 6-fold CV: one pass over its audio, then six probes on the cache.
    cv_cache = root / f"cache_cv_{stamp}"
    results["cv_extraction"] = extraction_pass(weights, data["cv"], cv_cache)
    results["cv_six_folds_on_cache_seconds"] = timed_training(
        [*common, "--dataset_dir", str(data["cv"]), "--cache_dir", str(cv_cache),
         "--output_dir", str(root / f"run_cv_{stamp}"), "--cv_folds", "emobox"], "cv"
    )  # fmt: skip
    print("PARTIAL " + json.dumps(results), flush=True)
    # 4. Memory of the cache build, two corpus sizes, each in its own process.
    results["memory"] = []
    if "memory" in args.skip:
        print("RESULTS " + json.dumps(results))
        return results
    for size in (int(s) for s in args.memory_sizes.split(",")):
        output = subprocess.run(
            [sys.executable, __file__, "--output_dir", str(root), "--probe_actors",
             args.probe_actors, "--cv_statements", args.cv_statements, "--memory_only", str(size)],
            capture_output=True, text=True, check=True, env={**os.environ, "PYTHONPATH": str(REPO)},
        ).stdout  # fmt: skip
        line = next(x for x in output.splitlines() if x.startswith("MEMORY "))
        results["memory"].append(json.loads(line.removeprefix("MEMORY ")))
    report(results, args.epochs)
    return results


def report(results: dict, epochs: int) -> None:
    probe = results["probe_extraction"]
    per_epoch = results["probe_uncached_one_epoch_train_runtime"]
    uncached = per_epoch * epochs
    cached_total = probe["seconds"] + results["probe_cached_run_seconds"]
    cv = results["cv_extraction"]
    cv_total = cv["seconds"] + results["cv_six_folds_on_cache_seconds"]
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads")  # fmt: skip
    print(f"probe corpus: {probe['clips']} clips, {probe['audio_seconds'] / 60:.1f} min of audio")
    print(f"  one pass (cache build): {probe['seconds']:.1f} s "
          f"({probe['clips'] / probe['seconds']:.2f} clips/s)")  # fmt: skip
    print(f"  cached {epochs}-epoch probe, whole run on the cache: "
          f"{results['probe_cached_run_seconds']:.1f} s "
          f"(Trainer.train {results['probe_cached_train_runtime']:.1f} s)")  # fmt: skip
    print(f"  cached total (pass + probe): {cached_total:.1f} s")
    print(f"  uncached: one epoch train + validation {per_epoch:.1f} s "
          f"(whole one-epoch run {results['probe_uncached_one_epoch_run_seconds']:.1f} s); "
          f"x{epochs} = {uncached:.0f} s")  # fmt: skip
    speedup = uncached / cached_total
    verdict = "met" if speedup >= MIN_PROBE_SPEEDUP else "NOT met"
    print(f"  speed-up {speedup:.1f}x (target >= {MIN_PROBE_SPEEDUP:g}x, {verdict})")
    print(f"CV corpus: {cv['clips']} clips; one pass {cv['seconds']:.1f} s; six folds on the "
          f"cache {results['cv_six_folds_on_cache_seconds']:.1f} s; total {cv_total:.1f} s = "
          f"{cv_total / cv['seconds']:.2f}x one pass")  # fmt: skip
    for memory in results["memory"]:
        print(f"cache build of {memory['clips']} clips: peak RSS {memory['peak_rss'] / 2**20:.0f} "
              f"MiB, peak anonymous {memory['peak_anon'] / 2**20:.0f} MiB, "
              f"{memory['seconds']:.1f} s")  # fmt: skip
    print("RESULTS " + json.dumps(results))


if __name__ == "__main__":
    main()
