"""An export's `manifest.json`: every file's size and SHA-256, where it came from, what checked it.

`ser-export --check DEST` reads it back and names every file that is missing, changed or extra,
so a copied or downloaded export can be told from a broken one without running the model.
"""

from __future__ import annotations

import importlib.metadata
import json
import platform
from pathlib import Path

from data_scripts.common.atomic_write import write_json_atomic
from training.model.model_file import sha256_of

MANIFEST_NAME = "manifest.json"
# Marks a folder as an export of ours: only such a folder is ever replaced (--overwrite).
EXPORT_FORMAT = "ser-wav2vec2 export"
FORMAT_VERSION = 1
PROJECT = "ser-wav2vec2"
LIBRARIES = ("torch", "torchaudio", "transformers", "safetensors", "soundfile", "numpy")
ONNX_LIBRARIES = ("onnx", "onnxscript", "onnxruntime")


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def versions(with_onnx: bool = False) -> dict:
    """Python's, the project's and the libraries' versions (None for one not installed)."""
    names = (PROJECT, *LIBRARIES, *(ONNX_LIBRARIES if with_onnx else ()))
    return {"python": platform.python_version(), **{name: _version(name) for name in names}}


def file_table(folder: Path) -> dict[str, dict]:
    """{relative path: {"size", "sha256"}} of every file under `folder` but the manifest."""
    return {
        path.relative_to(folder).as_posix(): {
            "size": path.stat().st_size,
            "sha256": sha256_of(path),
        }
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.name != MANIFEST_NAME
    }


def write_manifest(folder: Path, source: dict, verification: dict, with_onnx: bool) -> dict:
    """Write manifest.json for the files now in `folder`; returns what it wrote."""
    manifest = {
        "format": EXPORT_FORMAT,
        "format_version": FORMAT_VERSION,
        "source": source,
        "versions": versions(with_onnx),
        "verification": verification,
        "files": file_table(folder),
    }
    write_json_atomic(Path(folder) / MANIFEST_NAME, manifest)
    return manifest


def read_manifest(folder: Path) -> dict | None:
    """The folder's manifest when it is an export of ours, else None."""
    try:
        manifest = json.loads((Path(folder) / MANIFEST_NAME).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict) or manifest.get("format") != EXPORT_FORMAT:
        return None
    return manifest


def check_export(folder: Path) -> list[str]:
    """Problems with an export, one line each (empty: every file is as the manifest says).

    ValueError when `folder` is no export of ours (no readable manifest)."""
    folder = Path(folder)
    manifest = read_manifest(folder)
    if manifest is None:
        raise ValueError(f"{folder}: no {MANIFEST_NAME} of an export here; is it an export?")
    expected = manifest.get("files", {})
    found = {
        path.relative_to(folder).as_posix(): path
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.name != MANIFEST_NAME
    }
    problems = [f"missing: {name}" for name in sorted(set(expected) - set(found))]
    for name in sorted(set(expected) & set(found)):
        path, want = found[name], expected[name]
        size = path.stat().st_size
        if size != want["size"]:
            problems.append(f"changed: {name} ({size} bytes, manifest {want['size']})")
        elif sha256_of(path) != want["sha256"]:
            problems.append(f"changed: {name} (SHA-256 differs from the manifest)")
    problems += [f"extra: {name}" for name in sorted(set(found) - set(expected))]
    return problems
