"""Check before any work that an output folder can be written, naming the flag and the folder."""

from __future__ import annotations

import tempfile
from pathlib import Path


def check_writable(folder: str | Path, flag: str) -> None:
    """ValueError unless `folder` (or, when it does not exist yet, the nearest existing folder
    above it, where it would be created) accepts a new file. Nothing is left behind."""
    folder = Path(folder).absolute()
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        where = "is a file" if existing == folder else f"cannot be created: {existing} is a file"
        raise ValueError(f"{flag} {folder}: {where}, not a folder")
    try:
        with tempfile.NamedTemporaryFile(dir=existing, prefix=".write-probe-"):
            pass
    except OSError as error:
        raise ValueError(
            f"{flag} {folder}: cannot write in {existing} ({error.strerror or error}); "
            "choose a writable folder"
        ) from error
