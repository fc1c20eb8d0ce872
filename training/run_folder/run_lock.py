"""A lock file naming the training that writes an output folder, held for the whole run.

The lock is `filelock`'s on `<output_dir>/.training.lock` (an flock on Unix), so the kernel
releases it when the process dies however it dies; the file names the holder (pid, host, start,
command) for the message a second run gets. A lock file that nobody holds was left by a killed
run and is taken over with a warning.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import sys
import time
from pathlib import Path

import filelock

logger = logging.getLogger(__name__)

LOCK_FILE_NAME = ".training.lock"


class OutputDirBusy(ValueError):
    """Another live training holds the output folder."""


class RunLock:
    """Held from `acquire()` until `release()` or the end of the process."""

    def __init__(self, output_dir: str | Path):
        self.path = Path(output_dir) / LOCK_FILE_NAME
        # No soft (marker-file) fallback: a marker outlives a killed run, an flock does not.
        self._lock = filelock.FileLock(
            self.path, timeout=0, mode=0o644, fallback_to_soft=False, on_acquired=self._claim
        )

    def acquire(self) -> RunLock:
        try:
            self._lock.acquire()
        except filelock.Timeout:
            holder = _describe(_read_holder(self.path))
            raise OutputDirBusy(
                f"--output_dir {self.path.parent}: another training ({holder}) is writing there; "
                "wait for it to finish or choose another folder"
            ) from None
        return self

    def _claim(self, descriptor: int) -> None:
        """Called with the lock held: warn about a dead holder's file, then name this run."""
        previous = _parse(os.pread(descriptor, 4096, 0))
        if previous:
            logger.warning(
                "--output_dir %s: taking over the lock of a run that is no longer running (%s)",
                self.path.parent,
                _describe(previous),
            )
        holder = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
            "command": " ".join(sys.argv),
        }
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, (json.dumps(holder) + "\n").encode(), 0)

    def release(self) -> None:
        if not self._lock.is_locked:
            return
        self.path.unlink(missing_ok=True)  # while still held: nobody can take it half-removed
        self._lock.release(force=True)


def _parse(data: bytes) -> dict:
    try:
        return json.loads(data.decode() or "{}")
    except ValueError:
        return {}


def _read_holder(path: Path) -> dict:
    try:
        return _parse(path.read_bytes()[:4096])
    except OSError:
        return {}


def _describe(holder: dict) -> str:
    if not holder:
        return "a process that has not written its name yet"
    return f"pid {holder.get('pid')} on {holder.get('host')}, started {holder.get('started')}"
