"""Predict's output paths, checked before any audio is scored: a result file never replaces a
recording, another input, or any file that is not an earlier result of the same kind.

Forgetting the JSON file's name (`--json clip.wav other.wav`) would otherwise turn `clip.wav`
into JSON. An existing output is replaced only when its first bytes show it is what this command
writes there (checked without reading a large file whole); the folder being classified may hold
the outputs (they are not audio, so a later run skips them).
"""

from __future__ import annotations

from pathlib import Path

from data_scripts.common.writable import check_writable
from training.inference.audio_io import is_audio_file

# What the start of each kind of earlier output looks like (predict_outputs writes these).
_EARLIER_OUTPUT_STARTS = {
    "--json": b'{\n  "model_dir"',
    "--csv": b"file,emotion,probability,",
    "--csv_timeline": b"file,start_s,end_s,emotion,",
    "--timeline_png": b"\x89PNG\r\n\x1a\n",
}
_HEAD_BYTES = 64


def _is_earlier_output(path: Path, flag: str) -> bool:
    start = _EARLIER_OUTPUT_STARTS[flag]
    with open(path, "rb") as handle:
        return handle.read(_HEAD_BYTES).startswith(start)


def _refusal(flag: str, path: Path, why: str, advice: str) -> ValueError:
    return ValueError(f"{flag} {path}: {why}; {advice}")


def check_output_file(flag: str, path: Path, inputs: set[Path]) -> None:
    """ValueError naming the flag when `path` is an input or a file this command did not write."""
    name_it = f"name the result file, e.g. {flag} {path.stem}{_suffix(flag)}"
    if path.resolve() in inputs:
        raise _refusal(flag, path, "is one of the audio files to classify", name_it)
    if path.is_dir():
        raise _refusal(flag, path, "is a folder", f"give {flag} a file name")
    if path.exists() and not _is_earlier_output(path, flag):
        if is_audio_file(path):
            raise _refusal(flag, path, "is an audio file, not a result of predict", name_it)
        raise _refusal(
            flag,
            path,
            "exists and is not a result file written by predict",
            "choose a new file name (predict never replaces other files)",
        )
    check_writable(path.absolute().parent, flag)


def _suffix(flag: str) -> str:
    return {"--json": "_predictions.json", "--csv": "_predictions.csv"}.get(flag, "_timeline.csv")


def png_path(folder: Path, audio: Path, taken: set[Path]) -> Path:
    """`folder/<audio file name>.timeline.png`, numbered when two inputs share a name."""
    candidate = folder / f"{audio.name}.timeline.png"
    number = 2
    while candidate in taken:
        candidate = folder / f"{audio.name}.{number}.timeline.png"
        number += 1
    taken.add(candidate)
    return candidate


def check_png_folder(folder: Path, files: list[Path], inputs: set[Path]) -> list[Path]:
    """The PNG paths for `files` in `folder`; ValueError when the folder is a file or a PNG path
    is an input or an existing file that is not a PNG."""
    flag = "--timeline_png"
    if folder.exists() and not folder.is_dir():
        raise _refusal(flag, folder, "is a file", f"give {flag} a folder for the pictures")
    check_writable(folder, flag)
    taken: set[Path] = set()
    paths = [png_path(folder, audio, taken) for audio in files]
    for path in paths:
        if path.resolve() in inputs or (path.exists() and not _is_earlier_output(path, flag)):
            raise _refusal(
                flag,
                path,
                "exists and is not a timeline picture written by predict",
                f"choose another {flag} folder",
            )
    return paths


def check_outputs(outputs: dict[str, str | None], files: list[Path]) -> None:
    """Refuse, before any scoring, output files that are inputs or other files, and two outputs
    given the same path."""
    inputs = {path.resolve() for path in files}
    given = {flag: Path(path) for flag, path in outputs.items() if path}
    seen: dict[Path, str] = {}
    for flag, path in given.items():
        other = seen.setdefault(path.resolve(), flag)
        if other != flag:
            raise _refusal(flag, path, f"is also given to {other}", "give each output its own name")
        check_output_file(flag, path, inputs)
