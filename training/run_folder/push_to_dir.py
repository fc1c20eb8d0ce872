"""`--push_to_dir DEST`: the local counterpart of `--push_to_hub`. Checked before any training,
and run once the run's report is written, as `python -m training.inference.export` in its own
process (the training run does not import the inference room)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

# What marks a folder as an earlier export (training.inference.manifest writes it).
MANIFEST_NAME = "manifest.json"
REPO_ROOT = Path(__file__).resolve().parents[2]


def check_push_target(push_to_dir: str | None, output_dir: str, cv_folds) -> None:
    """ValueError naming the flag unless DEST can take an export of this run."""
    if not push_to_dir:
        return
    if cv_folds:
        raise ValueError(
            "--push_to_dir with --cv_folds: a cross-validation trains one model per fold; "
            "export one when it ends: python -m training.inference.export OUTPUT_DIR DEST --fold K"
        )
    dest, output = Path(push_to_dir).resolve(), Path(output_dir).resolve()
    if dest == output or output in dest.parents:
        raise ValueError(
            f"--push_to_dir {push_to_dir}: is inside --output_dir {output_dir}; the export is a "
            "folder of its own: choose one outside the run"
        )
    if dest in output.parents:
        raise ValueError(
            f"--push_to_dir {push_to_dir}: holds --output_dir {output_dir}; choose a folder "
            "outside the run"
        )
    if dest.exists() and not dest.is_dir():
        raise ValueError(f"--push_to_dir {push_to_dir}: is a file; choose a folder")
    if dest.is_dir() and any(dest.iterdir()) and not (dest / MANIFEST_NAME).is_file():
        raise ValueError(
            f"--push_to_dir {push_to_dir}: exists and is not an export (no {MANIFEST_NAME}); "
            "choose a new folder"
        )


def push_to_dir(output_dir: str, push_to_dir: str) -> None:
    """Export the finished run in `output_dir` to `push_to_dir` (an earlier export there is
    replaced); ValueError when the export fails, saying how to run it again."""
    command = [sys.executable, "-m", "training.inference.export", str(output_dir), push_to_dir]
    if Path(push_to_dir, MANIFEST_NAME).is_file():
        command.append("--overwrite")
    path = os.environ.get("PYTHONPATH")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO_ROOT), path])))
    if subprocess.run(command, env=env).returncode != 0:
        raise ValueError(
            f"--push_to_dir {push_to_dir}: the export failed (see above); the run in "
            f"{output_dir} is complete: export it with python -m training.inference.export "
            f"{output_dir} {push_to_dir}"
        )
