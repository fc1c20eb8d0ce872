"""Safe, atomic extraction of a zip archive: checked member paths, capped sizes, staged folders.

A corpus module says which members its archives may hold (data_scripts.corpora.ravdess.archives
for RAVDESS); this module refuses what no archive may hold (absolute paths, `..`, links,
backslashes), streams members with a byte cap (a zip bomb must not fill the disk or the memory),
and writes into a hidden sibling folder that is renamed into place when complete, with a marker
holding the archive's MD5, so an interrupted run never leaves a partial folder under the final
name and a completed one is skipped on re-run. The marker is written only after the staged files
were checked against the archive's list (every member, at its size, nothing else), and a
folder is taken as complete only when it still passes that check. Callers that may run
concurrently hold a lock (data_scripts.common.folder_lock) around the extraction.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import zipfile
import zlib
from pathlib import Path, PurePosixPath, PureWindowsPath

from tqdm import tqdm

COMPLETE_MARKER = ".complete"
COPY_BUFFER_SIZE = 1 << 20


def refusal(zip_path: Path, member: str, reason: str) -> ValueError:
    return ValueError(f"{zip_path}: member {member!r} refused: {reason}")


def member_parts(name: str) -> list[str]:
    """The non-empty parts of a member name, split at slashes and backslashes."""
    return [part for part in re.split(r"[/\\]", name) if part]


def unsafe_path(info: zipfile.ZipInfo) -> str | None:
    """Why a member may not be written anywhere (absolute, escaping, a link), or None."""
    name = info.filename
    if name.startswith(("/", "\\")) or PureWindowsPath(name).drive:
        return "absolute path"
    if ".." in member_parts(name):
        return "path with '..' (would escape the destination)"
    if stat.S_ISLNK(info.external_attr >> 16):
        return "symbolic link"
    if "\\" in name:
        return "backslash in path"
    return None


def too_large(size: int, limit: int, verb: str, corpus: str) -> str:
    return (
        f"{verb} {size} bytes, more than any {corpus} file could hold ({limit} bytes at most); "
        f"a zip bomb or not {corpus}"
    )


def open_archive(zip_path: Path) -> zipfile.ZipFile:
    """The zip, or ValueError naming it when it is truncated or not a zip at all."""
    try:
        return zipfile.ZipFile(zip_path)
    except zipfile.BadZipFile as error:
        raise ValueError(
            f"{zip_path}: not a readable zip archive ({error}); the file is truncated or "
            "corrupt: download it again"
        ) from error


def stream_member(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, sink, max_member_bytes: int, corpus: str
) -> int:
    """Copy one member into `sink` in chunks, counting bytes as they stream; ValueError naming
    the member when it grows past the limit or is corrupt. Returns the byte count."""
    zip_path = archive.filename
    written = 0
    try:
        with archive.open(info) as source:
            while chunk := source.read(COPY_BUFFER_SIZE):
                written += len(chunk)
                if written > max_member_bytes:
                    reason = too_large(written, max_member_bytes, "streams", corpus)
                    raise refusal(zip_path, info.filename, reason)
                sink.write(chunk)
    except (zipfile.BadZipFile, EOFError, zlib.error) as error:
        raise refusal(zip_path, info.filename, f"corrupt data ({error})") from error
    return written


def extraction_problem(folder: Path, members: list[zipfile.ZipInfo]) -> str | None:
    """Why `folder` is not exactly the archive's files at their sizes (the first missing, cut
    or extra file), or None. Two extractions sharing a staging folder once left most, not all,
    files; this is the check that keeps such a folder from being called complete."""
    expected = {
        PurePosixPath(*member_parts(info.filename)).as_posix(): info.file_size
        for info in members
        if not info.is_dir()
    }
    found = {
        path.relative_to(folder).as_posix(): path.stat().st_size
        for path in folder.rglob("*")
        if path.is_file() and path.name != COMPLETE_MARKER
    }
    for name, size in sorted(expected.items()):
        if name not in found:
            return f"{name} is missing"
        if found[name] != size:
            return f"{name} holds {found[name]} bytes, the archive {size}"
    extra = sorted(set(found) - set(expected))
    return f"{extra[0]} is not in the archive" if extra else None


def is_complete(destination: Path, archive_md5: str) -> bool:
    """Whether `destination` holds the marker of a finished extraction of the archive with this
    MD5 (check its files with `extraction_problem` too: a marker can outlive a file)."""
    marker = destination / COMPLETE_MARKER
    return marker.is_file() and marker.read_text().strip() == archive_md5


def extract_staged(
    zip_path: Path,
    members: list[zipfile.ZipInfo],
    destination: Path,
    archive_md5: str,
    max_member_bytes: int,
    corpus: str,
) -> None:
    """Write the checked `members` into a staging folder beside `destination`, mark it complete
    with the archive's MD5 and rename it into place; nothing is left behind on an error."""
    staging = destination.with_name(f".{destination.name}.partial")
    if staging.exists():
        shutil.rmtree(staging)  # left by an interrupted run
    staging.mkdir(parents=True)
    try:
        with open_archive(zip_path) as archive:
            for info in tqdm(members, desc=f"extracting {zip_path.name}", unit="file"):
                # The target is built from the checked parts, never from the raw member name.
                target = staging.joinpath(*PurePosixPath(info.filename).parts)
                if info.is_dir():
                    target.mkdir(exist_ok=True)
                    continue
                target.parent.mkdir(exist_ok=True)
                with open(target, "wb") as sink:
                    stream_member(archive, info, sink, max_member_bytes, corpus)
        # The marker goes only over a verified, complete extraction.
        problem = extraction_problem(staging, members)
        if problem is not None:
            raise ValueError(f"{zip_path}: extraction into {staging} is incomplete: {problem}")
        (staging / COMPLETE_MARKER).write_text(archive_md5 + "\n")
        _move_into_place(staging, destination)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _move_into_place(staging: Path, destination: Path) -> None:
    """Rename `staging` to `destination`, replacing an older or incomplete folder there."""
    if not destination.exists():
        os.replace(staging, destination)
        return
    old = destination.with_name(f".{destination.name}.old")
    if old.exists():
        shutil.rmtree(old)
    os.replace(destination, old)
    os.replace(staging, destination)
    shutil.rmtree(old)
