"""Save a dataset folder safely: replace only a folder this tool wrote, stage under a unique name.

The folder is written into `.<name>.<pid>.incomplete` beside the target, so two builds never
share a staging folder; the swap into place holds a lock (`filelock`, an flock the kernel
releases if the process dies) on a file in the temporary folder named by the target's path, so
the last build to finish wins with a complete folder and nothing is left beside it. A folder
that is not a saved dataset (the data folder, a user's files) is never deleted.

A dataset read straight from the build cache is saved as hard links to the cache's Arrow files
plus the two JSON files `save_to_disk` writes (the same folder, checked by
tests/data/test_dataset_folder.py), rather than a copy of every sample: a RAVDESS-size corpus's
0.6 GB copy took a second of a cache hit's two. Where links cannot be made (another file system)
`save_to_disk` copies. A target that already holds this very build (same fingerprint) is left
as it is.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from pathlib import Path

import datasets
import filelock
from datasets.utils.py_utils import asdict  # save_to_disk's own (it knows Features)

from data_scripts.common.orphans import pid_alive
from data_scripts.common.writable import check_writable

# What `Dataset.save_to_disk` writes, and the corpus's record beside it (corpus.json).
SAVED_DATASET_FILE = re.compile(
    r"^(data-\d{5}-of-\d{5}\.arrow|dataset_info\.json|state\.json|corpus\.json)$"
)
STAGING = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)\.(incomplete|old)$")


def is_saved_dataset(folder: Path) -> bool:
    """True for a folder holding exactly what `Dataset.save_to_disk` writes, or nothing."""
    entries = list(folder.iterdir())
    if not entries:
        return True
    names = {entry.name for entry in entries}
    return {"dataset_info.json", "state.json"} <= names and all(
        entry.is_file() and SAVED_DATASET_FILE.match(entry.name) for entry in entries
    )


def check_dataset_output(output_dir: str | Path, inputs: tuple = (), flag="--output_dir") -> None:
    """ValueError unless `output_dir` is absent or a saved dataset, apart from the input folders,
    and writable."""
    output_dir = Path(output_dir).absolute()
    for folder in inputs:
        folder = Path(folder).absolute()
        if folder == output_dir or output_dir in folder.parents:
            raise ValueError(
                f"{flag} {output_dir}: would replace the input folder {folder}; "
                "choose a new folder (inside it is fine)"
            )
    if output_dir.is_file():
        raise ValueError(f"{flag} {output_dir}: is a file, not a folder")
    if output_dir.is_dir() and not is_saved_dataset(output_dir):
        raise ValueError(
            f"{flag} {output_dir}: exists and is not a dataset saved by this command; refusing "
            "to replace it (choose a new folder, or remove it yourself)"
        )
    check_writable(output_dir, flag)


def _remove_stale_staging(output_dir: Path) -> None:
    """Staging folders of this target left by builds that were killed."""
    for entry in output_dir.parent.iterdir():
        match = STAGING.match(entry.name)
        if match and match["name"] == output_dir.name and not pid_alive(int(match["pid"])):
            shutil.rmtree(entry, ignore_errors=True)


def _swap_lock(output_dir: Path) -> filelock.FileLock:
    """The lock two builds of one target take to swap it into place (waits for the other). It
    lives in the temporary folder, keyed by the target's path, so nothing is left beside the
    user's folder."""
    key = hashlib.sha256(str(output_dir.resolve()).encode()).hexdigest()[:16]
    return filelock.FileLock(
        Path(tempfile.gettempdir()) / f"ser-prepare-{key}.lock", fallback_to_soft=False
    )


def holds_dataset(folder: Path, dataset: datasets.Dataset, beside: dict | None = None) -> bool:
    """True when `folder` is a saved dataset with `dataset`'s fingerprint (an earlier save of
    the same build: datasets fingerprints a cached build by its cache key), all its files, and
    the files `beside` it ({name: text}) as given."""
    try:
        state = json.loads((folder / "state.json").read_text())
    except (OSError, ValueError):
        return False
    files = [folder / entry["filename"] for entry in state.get("_data_files", [])]
    return (
        state.get("_fingerprint") == dataset._fingerprint
        and bool(files)
        and all(f.is_file() for f in files)
        and is_saved_dataset(folder)
        and all(_text(folder / name) == text for name, text in (beside or {}).items())
    )


def _text(path: Path) -> str | None:
    try:
        return path.read_text()
    except OSError:
        return None


def _link_cache_files(dataset: datasets.Dataset, staging: Path) -> bool:
    """Write `staging` as save_to_disk would, with the cache's Arrow files hard-linked in; False
    (nothing left in `staging`) when the dataset is not exactly its cache files or links fail."""
    plain = dataset._indices is None and dataset._format_type is None
    sources = [Path(entry["filename"]) for entry in dataset.cache_files]
    if not plain or not sources or dataset.list_indexes():
        return False
    staging.mkdir(parents=True)
    names = [f"data-{i:05d}-of-{len(sources):05d}.arrow" for i in range(len(sources))]
    try:
        for source, name in zip(sources, names, strict=True):
            os.link(source, staging / name)
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)
        return False
    # The two JSON files exactly as Dataset.save_to_disk writes them (datasets 5.2).
    state = {key: dataset.__dict__[key] for key in ("_fingerprint", "_format_columns",
             "_format_kwargs", "_format_type", "_output_all_columns")}  # fmt: skip
    state["_split"] = str(dataset.split) if dataset.split is not None else None
    state["_data_files"] = [{"filename": name} for name in names]
    (staging / "state.json").write_text(json.dumps(state, indent=2, sort_keys=True))
    info = asdict(dataset.info)
    (staging / "dataset_info.json").write_text(
        json.dumps({key: info[key] for key in sorted(info)}, indent=2)
    )
    return True


def save_dataset(
    dataset: datasets.Dataset,
    output_dir: str | Path,
    inputs: tuple = (),
    beside: dict | None = None,
) -> None:
    """Link (or save_to_disk) into a staging sibling with the files `beside` the Arrow files
    ({name: text}: corpus.json), then swap it into place under a lock; nothing to do when the
    target already holds this build."""
    output_dir = Path(output_dir).absolute()
    check_dataset_output(output_dir, inputs)
    if output_dir.is_dir() and holds_dataset(output_dir, dataset, beside):
        return
    output_dir.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_staging(output_dir)
    staging = output_dir.with_name(f".{output_dir.name}.{os.getpid()}.incomplete")
    old = output_dir.with_name(f".{output_dir.name}.{os.getpid()}.old")
    try:
        if not _link_cache_files(dataset, staging):
            dataset.save_to_disk(str(staging))
        for name, text in (beside or {}).items():
            (staging / name).write_text(text)
        with _swap_lock(output_dir):
            # Checked again under the lock: something may have appeared while we saved.
            check_dataset_output(output_dir, inputs)
            if output_dir.exists():
                os.replace(output_dir, old)
            os.replace(staging, output_dir)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
