"""What the benchmarks share: synthetic corpora and clips, CPU seconds, memory sampling."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np

from data_scripts.corpora.ravdess.download import download_and_map
from data_scripts.corpora.ravdess.mapping import MAPPING_FILE_NAME
from data_scripts.corpora.ravdess.sample_archives import write_sample_archives
from data_scripts.corpora.ravdess.voice_variation import PRESETS

RSS_SAMPLE_SECONDS = 0.2
RATE = 16_000


def make_corpus(
    root: Path, actors: list[int], seconds: tuple[float, float], voices: str = "default"
) -> Path:
    """Synthetic archives for `actors`, extracted and mapped by the real code; reused if there.
    `voices`: a preset of voice_variation.PRESETS ("hard": the harder corpus)."""
    suffix = "" if voices == "default" else f"_{voices}"
    data_dir = root / f"data_actors{actors[0]}-{actors[-1]}_{seconds[0]:g}-{seconds[1]:g}s{suffix}"
    if (data_dir / MAPPING_FILE_NAME).is_file():
        return data_dir
    archives = write_sample_archives(
        root / f"{data_dir.name}_archives", actors, seconds, variation=PRESETS[voices]
    )
    checksums = {a.path.name: (a.size, a.md5) for a in archives.values()}
    download_and_map(data_dir, archive_dir=root / f"{data_dir.name}_archives", checksums=checksums)
    return data_dir


def generated_clips(
    count: int, seconds: tuple[float, float] = (3.0, 5.0), seed: int = 0
) -> list[np.ndarray]:
    """Voiced-like clips of `seconds` (16 kHz): a gliding tone with harmonics and a little noise."""
    rng = np.random.default_rng(seed)
    clips = []
    for _ in range(count):
        t = np.arange(int(rng.uniform(*seconds) * RATE)) / RATE
        pitch = rng.uniform(100, 250) * (1 + 0.1 * np.sin(2 * np.pi * rng.uniform(2, 6) * t))
        phase = 2 * np.pi * np.cumsum(pitch) / RATE
        voice = sum(np.sin(k * phase) / k for k in range(1, 6))
        clips.append((0.2 * voice + 0.01 * rng.standard_normal(len(t))).astype(np.float32))
    return clips


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (user + system): unlike wall time it
    barely moves when other jobs share the cores."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


class PeriodicSampler:
    """Calls `sample()` every `every` seconds in a thread while the `with` block runs, and once
    more at its end; subclasses keep their peaks."""

    def __init__(self, every: float):
        self.every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def sample(self) -> None:
        raise NotImplementedError

    def _run(self):
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.every)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.sample()


class PeakMemory(PeriodicSampler):
    """Samples the summed PSS of a process (default: this one) and all its descendants (from
    /proc) in a thread.

    getrusage reports only the largest single child, and summed RSS counts the pages forked
    workers share with their parent (torch's libraries alone are ~0.7 GB) once per process;
    PSS splits shared pages between the processes that map them, so the sum is real memory.
    """

    def __init__(self, pid: int | None = None):
        super().__init__(RSS_SAMPLE_SECONDS)
        self.pid = pid or os.getpid()
        self.peak_bytes = 0

    @staticmethod
    def _descendants(pid: int) -> list[int]:
        found, pending = [], [pid]
        while pending:
            current = pending.pop()
            found.append(current)
            try:
                for task in os.listdir(f"/proc/{current}/task"):
                    children = Path(f"/proc/{current}/task/{task}/children").read_text().split()
                    pending.extend(int(child) for child in children)
            except OSError:
                continue
        return found

    @staticmethod
    def _pss(pid: int) -> int:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
        except OSError:
            pass
        return 0

    def sample(self) -> None:
        total = sum(self._pss(pid) for pid in self._descendants(self.pid))
        self.peak_bytes = max(self.peak_bytes, total)
