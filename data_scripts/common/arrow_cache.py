"""What every corpus's Arrow cache shares: table size, workers, input fingerprint, failure reason.

The one builder (data_scripts.corpora.builder, RAVDESS and every other corpus) writes tables of
`FILES_PER_TABLE` clips, keys its cache on
`input_fingerprint` (file names, sizes and mtimes; the SHA-256 of small files such as a CSV)
and the decode settings, and records those settings in the dataset's description on the line
`recorded_decode_settings` reads back. A worker's failure reaches the prepare command as one
line (`failure_message`), and the prepare command runs its work through `run_prepare`:
one-line errors, then `saved_line`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import datasets
import numpy as np

from data_scripts.common.audio_decoding import TARGET_SAMPLING_RATE, DecodeSettings
from data_scripts.common.cli_errors import USER_ERRORS, fail

# Clips per Arrow table: about 8 MB of 16 kHz float32 for 4 s clips, so memory stays flat.
FILES_PER_TABLE = 32
# The line of the dataset's description that records how its audio was decoded.
DECODING_LINE_PREFIX = "audio decoding: "
# "SomeError: message", the line a traceback ends each exception with.
EXCEPTION_LINE = re.compile(r"^[\w.]+(Error|Exception): ")


def default_num_proc() -> int:
    """Both cores (all the cores this process may use)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def input_fingerprint(sources: Iterable, extra_files: list[Path]) -> list:
    """(name, size, mtime) of every input file (each source's `path`), plus the SHA-256 of small
    files such as the CSV."""
    stats = []
    for path in sorted({source.path for source in sources}):
        try:
            status = os.stat(path)
        except FileNotFoundError:
            raise FileNotFoundError(f"{path}: listed in the mapping but missing") from None
        stats.append((path, status.st_size, status.st_mtime_ns))
    hashes = []
    for extra in extra_files:
        with open(extra, "rb") as handle:
            hashes.append((str(extra), hashlib.file_digest(handle, "sha256").hexdigest()))
    return [stats, hashes]


def failure_message(error: Exception) -> str:
    """The reason behind datasets' generic generation error. A worker process's failure arrives
    as traceback text; its last exception line other than datasets' own names the file."""
    text = str(error.__cause__ or error).strip()
    reasons = [
        line
        for line in text.splitlines()
        if EXCEPTION_LINE.match(line) and "DatasetGenerationError" not in line
    ]
    return EXCEPTION_LINE.sub("", reasons[-1]) if reasons else text


def recorded_decode_settings(dataset: datasets.Dataset) -> DecodeSettings | None:
    """The decode settings a builder recorded in the dataset's description, or None when the
    dataset did not come from one of ours (the settings are then unknown)."""
    for line in (dataset.info.description or "").splitlines():
        if line.startswith(DECODING_LINE_PREFIX):
            return DecodeSettings.from_dict(json.loads(line.removeprefix(DECODING_LINE_PREFIX)))
    return None


def total_hours(dataset: datasets.Dataset, sampling_rate: int = TARGET_SAMPLING_RATE) -> float:
    return float(np.sum(dataset.data.column("length").to_numpy())) / sampling_rate / 3600


def saved_line(dataset: datasets.Dataset, output_dir: str | Path, seconds: float) -> str:
    """What a prepare command prints when the dataset is saved: rows, hours, folder, time."""
    return (
        f"{len(dataset)} rows, {total_hours(dataset):.2f} h of 16 kHz audio, written to "
        f"{output_dir} in {seconds:.1f} s"
    )


def run_prepare(
    work: Callable[[], datasets.Dataset], output_dir: str | Path, debug: bool
) -> datasets.Dataset:
    """A prepare command's build-and-save `work`, with INFO logging and one-line errors (the
    traceback with --debug); prints `saved_line` and returns the dataset."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    start = time.perf_counter()
    try:
        dataset = work()
    except USER_ERRORS as error:
        fail(error, debug)
    print(saved_line(dataset, output_dir, time.perf_counter() - start))
    return dataset
