"""Save a dataset folder safely: replace only a folder this tool wrote, stage under a unique name.

`save_to_disk` writes into `.<name>.<pid>.incomplete` beside the target, so two builds never
share a staging folder; the swap into place holds a lock on the parent folder, so the last
build to finish wins with a complete folder. A folder that is not a saved dataset (the data
folder, a user's files) is never deleted.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
from contextlib import contextmanager
from pathlib import Path

import datasets

from data_scripts.common.orphans import pid_alive
from data_scripts.common.writable import check_writable

# What `Dataset.save_to_disk` writes, and nothing else.
SAVED_DATASET_FILE = re.compile(r"^(data-\d{5}-of-\d{5}\.arrow|dataset_info\.json|state\.json)$")
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


@contextmanager
def _folder_lock(folder: Path):
    """An exclusive flock on the folder itself: released by the kernel if the process dies."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)


def save_dataset(dataset: datasets.Dataset, output_dir: str | Path, inputs: tuple = ()) -> None:
    """save_to_disk into a staging sibling, then swap it into place under a lock."""
    output_dir = Path(output_dir).absolute()
    check_dataset_output(output_dir, inputs)
    output_dir.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_staging(output_dir)
    staging = output_dir.with_name(f".{output_dir.name}.{os.getpid()}.incomplete")
    old = output_dir.with_name(f".{output_dir.name}.{os.getpid()}.old")
    try:
        dataset.save_to_disk(str(staging))
        with _folder_lock(output_dir.parent):
            # Checked again under the lock: something may have appeared while we saved.
            check_dataset_output(output_dir, inputs)
            if output_dir.exists():
                os.replace(output_dir, old)
            os.replace(staging, output_dir)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
