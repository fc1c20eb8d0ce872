"""The saved weights file and its checksum: training records it, the export checks it, so the
model that is shipped is provably the one that was evaluated."""

from __future__ import annotations

import hashlib
from pathlib import Path

# The weights file `save_pretrained` writes.
MODEL_WEIGHTS = "model.safetensors"
_CHUNK = 1 << 20


def sha256_of(path: str | Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks (model files are hundreds of MB)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
