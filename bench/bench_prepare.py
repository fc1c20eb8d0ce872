"""Benchmark of the RAVDESS data preparation on a RAVDESS-size synthetic corpus.

In one run: the builder's preparation with one process and with worker processes, each followed
by save_to_disk as the prepare command does (repeated, medians reported); the floor it is
compared with (soundfile decode + channel mean + resample every file once in a plain loop that
keeps one torchaudio Resample per source rate, on one thread and on a pool of threads, and the
same loop with the decoder's shared lengths, to show what that trick alone buys); where the
build's time goes (decode, resample, Arrow tables, writing, save_to_disk); the prepare command's
peak memory in a fresh process; a cache hit inside the process; and one epoch of reading the
prepared rows against datasets' audiofolder + cast_column(Audio(16 kHz)) path, which decodes and
resamples at every access (that part needs torchcodec and FFmpeg; it is skipped without them).

    python bench/bench_prepare.py                      # all 24 actors, 2452 files of 3-5 s
    python bench/bench_prepare.py --actors 1-4         # a quick look

The corpus is generated once into --output_dir (git-ignored) and reused by later runs.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import datasets
import numpy as np
import soundfile as sf
import torch
import torchaudio.transforms as audio_transforms
from bench_support import PeakMemory, cpu_seconds, make_corpus

from data_scripts.common.arrow_cache import FILES_PER_TABLE, default_num_proc
from data_scripts.common.audio_decoding import (
    DEFAULT_SETTINGS,
    TARGET_SAMPLING_RATE,
    DecodeSettings,
    decode_audio,
    resample,
)
from data_scripts.common.dataset_folder import save_dataset
from data_scripts.corpora.builder import rows_table
from data_scripts.corpora.ravdess.mapping import MAPPING_FILE_NAME, read_mapping
from data_scripts.corpora.ravdess.sample_archives import parse_actor_range
from data_scripts.corpora.ravdess.sources import AudioSource
from data_scripts.corpora.ravdess_corpus import FACTS, FEATURES, build_ravdess, clip_of
from training.data.batching import MODEL_COLUMNS

logger = logging.getLogger("bench_prepare")

# Targets of the prepare command (2-core machine).
MAX_PREPARE_TO_PLAIN_LOOP = 0.6  # one process, against the honest floor
MAX_PEAK_RSS_GB = 2.0
MAX_CACHE_HIT_SECONDS = 1.0
MIN_READ_SPEEDUP = 30.0


def plain_loop(paths: list[Path], threads: int = 1, shared_lengths: bool = False) -> dict:
    """The floor: decode, average channels, resample each file once, no writing. One torchaudio
    Resample per source rate (its kernel built once), one torch thread per file; with threads > 1
    the files are shared out over a thread pool (soundfile and torch release the GIL). With
    `shared_lengths` each clip goes through the decoder's `resample` (zero-extended to a shared
    length and cut after), which spares oneDNN a new convolution per clip length.
    Returns wall seconds and, for one thread, the seconds spent decoding and resampling."""
    resamplers: dict[int, audio_transforms.Resample] = {}
    spent = {"decode": 0.0, "resample": 0.0}

    def one(path: Path) -> None:
        start = time.perf_counter()
        audio, rate = sf.read(path, dtype="float32", always_2d=True)
        mono = torch.from_numpy(audio.mean(axis=1))
        decoded = time.perf_counter()
        if shared_lengths:
            resample(mono, rate, DEFAULT_SETTINGS)  # the decoder's own, same kernel
        else:
            if rate not in resamplers:
                resamplers[rate] = audio_transforms.Resample(rate, TARGET_SAMPLING_RATE)
            resamplers[rate](mono)
        spent["decode"] += decoded - start
        spent["resample"] += time.perf_counter() - decoded

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        cpu_start, start = cpu_seconds(), time.perf_counter()
        if threads == 1:
            for path in paths:
                one(path)
        else:
            with ThreadPoolExecutor(threads) as pool:
                list(pool.map(one, paths))
        total, cpu = time.perf_counter() - start, cpu_seconds() - cpu_start
    finally:
        torch.set_num_threads(previous)
    return {"total": total, "cpu": cpu, **spent} if threads == 1 else {"total": total, "cpu": cpu}


def timed_build(data_dir: Path, cache_dir: Path, num_proc: int) -> dict[str, float]:
    """A fresh build into `cache_dir`, then save_to_disk as the prepare command does."""
    shutil.rmtree(cache_dir, ignore_errors=True)
    cpu_start, start = cpu_seconds(), time.perf_counter()
    dataset = build_ravdess(data_dir=data_dir, cache_dir=cache_dir, num_proc=num_proc)
    built = time.perf_counter()
    with tempfile.TemporaryDirectory(dir=cache_dir.parent) as scratch:
        save_dataset(dataset, Path(scratch) / "prepared")
        saved = time.perf_counter()
    cpu = cpu_seconds() - cpu_start
    shutil.rmtree(cache_dir, ignore_errors=True)
    return {"build": built - start, "save": saved - built, "total": saved - start, "cpu": cpu}


def build_breakdown(paths: list[Path], scratch: Path) -> dict[str, float]:
    """The build's stages one after another on one thread, over every file: the decoder without
    resampling (every corpus file is 48 kHz), the decoder with it, the Arrow tables, and datasets'
    ArrowWriter writing them (what the builder's generator feeds)."""
    torch.set_num_threads(1)
    no_resampling = DecodeSettings(target_sampling_rate=48_000)
    start = time.perf_counter()
    for path in paths:
        decode_audio(path, no_resampling)
    decode_seconds = time.perf_counter() - start
    resample_seconds = tables_seconds = write_seconds = 0.0
    with datasets.arrow_writer.ArrowWriter(path=str(scratch / "breakdown.arrow")) as writer:
        for first in range(0, len(paths), FILES_PER_TABLE):
            batch = paths[first : first + FILES_PER_TABLE]
            start = time.perf_counter()
            waveforms = [decode_audio(path) for path in batch]
            decoded = time.perf_counter()
            clips = [clip_of(AudioSource(path.name, str(path))) for path in batch]
            table = rows_table(FACTS, clips, waveforms, DEFAULT_SETTINGS, FEATURES)
            tabled = time.perf_counter()
            writer.write_table(table)
            written = time.perf_counter()
            resample_seconds += decoded - start
            tables_seconds += tabled - decoded
            write_seconds += written - tabled
        writer.finalize()
    (scratch / "breakdown.arrow").unlink()
    torch.set_num_threads(default_num_proc())
    return {
        "decode": decode_seconds,
        "resample": resample_seconds - decode_seconds,
        "tables": tables_seconds,
        "write": write_seconds,
    }


def read_epoch(dataset: datasets.Dataset) -> tuple[float, int]:
    """Seconds to touch every row's waveform once, row by row, and the samples seen."""
    start = time.perf_counter()
    samples = 0
    for row in dataset:
        samples += len(row["audio"]["array"])
    return time.perf_counter() - start, samples


def read_epoch_like_trainer(dataset: datasets.Dataset, batch_size: int = 8, seed: int = 0) -> float:
    """Seconds for one shuffled epoch fetched the way torch's DataLoader does with a Dataset
    (`__getitems__` with a batch of indices), before collation."""
    order = np.random.default_rng(seed).permutation(len(dataset)).tolist()
    start = time.perf_counter()
    for first in range(0, len(order), batch_size):
        for row in dataset.__getitems__(order[first : first + batch_size]):
            len(row["audio"]["array"])
    return time.perf_counter() - start


def audiofolder_epoch(data_dir: Path, cache_dir: Path) -> tuple[float, int] | None:
    """One epoch of the usual HF path, or None (with a message) when torchcodec is missing."""
    try:
        import torchcodec  # noqa: F401
    except (ImportError, RuntimeError, OSError) as error:
        print(
            f"audiofolder comparison SKIPPED: torchcodec unavailable ({error}). For it: "
            "apt-get install ffmpeg; pip install torchcodec (in a separate venv, see BENCHMARKS.md)"
        )
        return None
    folder = datasets.load_dataset(
        "audiofolder",
        data_dir=str(data_dir / "classification_data"),
        split="train",
        cache_dir=str(cache_dir),
    )
    folder = folder.cast_column("audio", datasets.Audio(sampling_rate=TARGET_SAMPLING_RATE))
    return read_epoch(folder)


def verdict(ok: bool) -> str:
    return "meets target" if ok else "MISSES target"


def compare_with_floor(paths: list[Path], data_dir: Path, root: Path, workers: int, repeats: int):
    """Floor (1 and `workers` threads) and builds (1 process, `workers` processes) side by side,
    `repeats` rounds in a row so that all see the same machine load; returns the medians."""
    for path in paths:  # into the page cache, so that no contender pays for the first disk read
        path.read_bytes()
    rounds = []
    for round_index in range(repeats):
        result = {
            "floor_1": plain_loop(paths, threads=1),
            "floor_shared": plain_loop(paths, threads=1, shared_lengths=True),
            f"floor_{workers}": plain_loop(paths, threads=workers),
            "build_1": timed_build(data_dir, root / "cache_timed", num_proc=1),
            f"build_{workers}": timed_build(data_dir, root / "cache_timed", num_proc=workers),
        }
        rounds.append(result)
        print(
            f"round {round_index + 1}: floor 1 thread {result['floor_1']['total']:.1f} s "
            f"(decode {result['floor_1']['decode']:.1f}, resample "
            f"{result['floor_1']['resample']:.1f}), with shared lengths "
            f"{result['floor_shared']['total']:.1f} s, {workers} threads "
            f"{result[f'floor_{workers}']['total']:.1f} s; build+save 1 process "
            f"{result['build_1']['build']:.1f}+{result['build_1']['save']:.1f} s, {workers} "
            f"processes {result[f'build_{workers}']['build']:.1f}+"
            f"{result[f'build_{workers}']['save']:.1f} s; CPU seconds: floor "
            f"{result['floor_1']['cpu']:.1f} / {result[f'floor_{workers}']['cpu']:.1f}, build "
            f"{result['build_1']['cpu']:.1f} / {result[f'build_{workers}']['cpu']:.1f}",
            flush=True,
        )
    return {
        name: {key: statistics.median(r[name][key] for r in rounds) for key in rounds[0][name]}
        for name in rounds[0]
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument(
        "--output_dir", default="bench_output", help="corpus and caches (git-ignored)"
    )
    parser.add_argument("--actors", default="1-24")
    parser.add_argument("--min_seconds", type=float, default=3.0)
    parser.add_argument("--max_seconds", type=float, default=5.0)
    parser.add_argument("--num_proc", type=int, default=None, help="builder workers (all cores)")
    parser.add_argument("--repeats", type=int, default=3, help="rounds of floor vs build")
    parser.add_argument(
        "--timing_only",
        action="store_true",
        help="only floor vs build and the breakdown (no memory, cache hit or read epochs)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    datasets.disable_progress_bars()
    root = Path(args.output_dir).resolve()
    actors = parse_actor_range(args.actors)

    data_dir = make_corpus(root, actors, (args.min_seconds, args.max_seconds))
    paths = [data_dir / row["audio_path"] for row in read_mapping(data_dir / MAPPING_FILE_NAME)]
    num_proc = args.num_proc or default_num_proc()
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs "
        f"({default_num_proc()} usable), torch {torch.__version__}, datasets {datasets.__version__}"
    )

    medians = compare_with_floor(paths, data_dir, root, max(num_proc, 2), args.repeats)
    workers = max(num_proc, 2)
    floor = medians["floor_1"]["total"]
    one, many = medians["build_1"], medians[f"build_{workers}"]
    ratio = one["total"] / floor
    print(f"medians of {args.repeats} rounds, {len(paths)} files:")
    print(
        f"floor, plain loop with a cached Resample, 1 thread: {floor:.1f} s (decode + downmix "
        f"{medians['floor_1']['decode']:.1f} s, resample {medians['floor_1']['resample']:.1f} s); "
        f"{workers} threads: {medians[f'floor_{workers}']['total']:.1f} s"
    )
    shared = medians["floor_shared"]
    print(
        f"the same loop with shared lengths (the decoder's padding), 1 thread: "
        f"{shared['total']:.1f} s (decode + downmix {shared['decode']:.1f} s, resample "
        f"{shared['resample']:.1f} s)"
    )
    print(
        f"build + save_to_disk, 1 process: {one['build']:.1f} + {one['save']:.1f} = "
        f"{one['total']:.1f} s; {workers} processes: {many['build']:.1f} + {many['save']:.1f} = "
        f"{many['total']:.1f} s"
    )
    print(
        f"CPU seconds (all threads and processes): floor {medians['floor_1']['cpu']:.1f} / "
        f"{medians[f'floor_{workers}']['cpu']:.1f}, build+save {one['cpu']:.1f} / {many['cpu']:.1f}"
    )
    print(
        f"1-process build+save / 1-thread floor: {ratio:.2f} (target <= "
        f"{MAX_PREPARE_TO_PLAIN_LOOP}: {verdict(ratio <= MAX_PREPARE_TO_PLAIN_LOOP)}); "
        f"{workers} processes: {many['total'] / floor:.2f}; against the loop with shared "
        f"lengths: {one['total'] / shared['total']:.2f} / {many['total'] / shared['total']:.2f}"
    )
    breakdown = build_breakdown(paths, root)
    print(
        "build stages one after another on 1 thread: "
        + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in breakdown.items())
        + f"; save_to_disk (above) {one['save']:.1f} s"
    )
    if args.timing_only:
        return

    cache_dir = root / "cache"
    shutil.rmtree(cache_dir, ignore_errors=True)
    dataset = build_ravdess(data_dir=data_dir, cache_dir=cache_dir, num_proc=num_proc)
    audio_seconds = float(np.sum(dataset.data.column("length").to_numpy())) / TARGET_SAMPLING_RATE

    start = time.perf_counter()
    cached = build_ravdess(data_dir=data_dir, cache_dir=cache_dir, num_proc=num_proc)
    cache_hit_seconds = time.perf_counter() - start

    # Memory is measured in a second, untimed run of the prepare command in a fresh process (what
    # users run; this process has grown through the runs above): reading /proc/*/smaps_rollup
    # costs ~10 ms of CPU per process and read, which would slow a timed build.
    memory_cache = root / "cache_memory_run"
    shutil.rmtree(memory_cache, ignore_errors=True)
    with tempfile.TemporaryDirectory(dir=root) as scratch:
        command = [sys.executable, "-m", "data_scripts.ravdess", "--data_dir", str(data_dir)]
        command += ["--output_dir", str(Path(scratch) / "prepared")]
        command += ["--cache_dir", str(memory_cache), "--num_proc", str(num_proc)]
        quiet = {**os.environ, "HF_DATASETS_DISABLE_PROGRESS_BARS": "1"}
        prepare = subprocess.Popen(command, stdout=subprocess.DEVNULL, env=quiet)
        with PeakMemory(prepare.pid) as memory:
            if prepare.wait() != 0:
                raise SystemExit(f"the prepare command failed: {' '.join(command)}")
    shutil.rmtree(memory_cache)
    peak_gb = memory.peak_bytes / 1e9

    all_columns_epoch, prepared_samples = read_epoch(cached.with_format("numpy"))
    model_rows = cached.with_format("numpy", columns=MODEL_COLUMNS)
    prepared_epoch, _ = read_epoch(model_rows)
    trainer_epoch = read_epoch_like_trainer(model_rows)
    folder = audiofolder_epoch(data_dir, root / "audiofolder_cache")

    print(
        f"files: {len(dataset)}, audio: {audio_seconds / 3600:.2f} h at 16 kHz, workers: {num_proc}"
    )
    print(
        f"peak memory (PSS) of the prepare command, process + workers together: {peak_gb:.2f} "
        f"GB (target <= {MAX_PEAK_RSS_GB}: {verdict(peak_gb <= MAX_PEAK_RSS_GB)})"
    )
    print(
        f"cache hit in-process: {cache_hit_seconds:.2f} s (target <= {MAX_CACHE_HIT_SECONDS}: "
        f"{verdict(cache_hit_seconds <= MAX_CACHE_HIT_SECONDS)})"
    )
    print(
        f"read one epoch of prepared rows, numpy format, row by row: {prepared_epoch:.2f} s "
        f"with the model's columns {MODEL_COLUMNS}, {all_columns_epoch:.2f} s with all columns; "
        f"shuffled batches of 8 via __getitems__ (the Trainer's DataLoader): {trainer_epoch:.2f} s"
    )
    if folder is not None:
        folder_epoch, folder_samples = folder
        speedup = folder_epoch / prepared_epoch
        print(
            f"read one epoch via audiofolder + Audio(16 kHz), row by row: {folder_epoch:.1f} s "
            f"({folder_samples} vs {prepared_samples} samples)"
        )
        print(
            f"prepared read speed-up, row by row (model columns): {speedup:.0f}x "
            f"(target >= {MIN_READ_SPEEDUP:.0f}x: {verdict(speedup >= MIN_READ_SPEEDUP)}); "
            f"all columns: {folder_epoch / all_columns_epoch:.0f}x; "
            f"Trainer-style batches: {folder_epoch / trainer_epoch:.0f}x"
        )


if __name__ == "__main__":
    main()
