"""A lock file naming the training that writes an output folder, held for the whole run.

The lock is an flock on `<output_dir>/.training.lock`, so the kernel releases it when the
process dies however it dies; the file names the holder (pid, host, start, command) for the
message a second run gets. A lock file that nobody holds was left by a killed run and is taken
over with a warning.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import socket
import sys
import time
from pathlib import Path

logger = logging.getLogger(__name__)

LOCK_FILE_NAME = ".training.lock"


class OutputDirBusy(ValueError):
    """Another live training holds the output folder."""


class RunLock:
    """Held from `acquire()` until `release()` or the end of the process."""

    def __init__(self, output_dir: str | Path):
        self.path = Path(output_dir) / LOCK_FILE_NAME
        self._descriptor: int | None = None

    def acquire(self) -> RunLock:
        descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _describe(_read_holder(descriptor))
            os.close(descriptor)
            raise OutputDirBusy(
                f"--output_dir {self.path.parent}: another training ({holder}) is writing there; "
                "wait for it to finish or choose another folder"
            ) from None
        previous = _read_holder(descriptor)
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
        self._descriptor = descriptor
        return self

    def release(self) -> None:
        if self._descriptor is None:
            return
        self.path.unlink(missing_ok=True)  # while still held: nobody can take it half-removed
        os.close(self._descriptor)
        self._descriptor = None


def _read_holder(descriptor: int) -> dict:
    try:
        return json.loads(os.pread(descriptor, 4096, 0).decode() or "{}")
    except ValueError:
        return {}


def _describe(holder: dict) -> str:
    if not holder:
        return "a process that has not written its name yet"
    return f"pid {holder.get('pid')} on {holder.get('host')}, started {holder.get('started')}"
