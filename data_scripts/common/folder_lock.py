"""One process at a time per folder: an flock on the folder itself, waited for with a message.

Two downloads into one --data_dir used to share the `.part` files and the extraction's staging
folder, and left a damaged extraction marked complete. Holding this lock around the whole job
makes the second run wait, then find the first one's verified archives and extraction and skip
them. The lock is on the folder (no lock file is left in the user's data), and the kernel drops
it when the process dies however it dies. Nested holds of one folder in one process are allowed
(a second flock on another descriptor of the same folder would wait for ourselves forever).
"""

from __future__ import annotations

import fcntl
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

logger = logging.getLogger(__name__)

# (device, inode) of each folder this process holds, with how many times it is held.
_held: dict[tuple[int, int], int] = {}


@contextmanager
def folder_lock(folder: str | Path, job: str) -> Iterator[None]:
    """Hold an exclusive lock on `folder` (created if missing) for the block; when another
    process holds it, say so (naming `job` and the folder) and wait."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    key = (os.fstat(descriptor).st_dev, os.fstat(descriptor).st_ino)
    if key in _held:
        os.close(descriptor)
        _held[key] += 1
        try:
            yield
        finally:
            _held[key] -= 1
        return
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            logger.info("%s: another %s is working here; waiting for it to finish", folder, job)
            fcntl.flock(descriptor, fcntl.LOCK_EX)
        _held[key] = 1
        try:
            yield
        finally:
            del _held[key]
    finally:
        os.close(descriptor)  # releases the flock
