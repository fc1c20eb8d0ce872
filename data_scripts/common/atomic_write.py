"""Write result files atomically: a temporary file in the same folder, renamed when complete.

A crash or an error part-way leaves the previous file (or none), never half a file. Folder-level
staging (extraction, save_to_disk) renames whole folders and does not use these helpers.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_output(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success it replaces `path`, on error it is
    removed and `path` is left as it was."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Same folder, so os.replace is a rename on one file system; hidden, so globs skip it.
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        yield temporary
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write `text` to `path` atomically; returns `path`."""
    with atomic_output(path) as temporary:
        temporary.write_text(text)
    return Path(path)


def write_json_atomic(path: str | Path, value, **dumps_options) -> Path:
    """`value` as indented JSON (keys sorted unless told otherwise), written atomically."""
    options = {"indent": 2, "sort_keys": True, **dumps_options}
    return write_text_atomic(path, json.dumps(value, **options) + "\n")
