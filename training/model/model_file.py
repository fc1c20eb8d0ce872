"""The saved weights file and its checksum: training records it, the export checks it, so the
model that is shipped is provably the one that was evaluated."""

from __future__ import annotations

import hashlib
from pathlib import Path

# The weights file `save_pretrained` writes.
MODEL_WEIGHTS = "model.safetensors"


def sha256_of(path: str | Path) -> str:
    """Hex SHA-256 of a file, read in chunks by hashlib (model files are hundreds of MB)."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()
