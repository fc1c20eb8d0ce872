"""Safe, atomic extraction of a RAVDESS archive into `Actor_XX/*.wav` folders.

Every member is checked before anything is written: no absolute paths, no `..`, no links, and
nothing but `Actor_XX/<RAVDESS name>.wav` (with the folder's number equal to the file's actor).
Files are written to a hidden sibling folder that is renamed into place when complete, with a
marker holding the archive's MD5, so an interrupted run never leaves a partial folder under the
final name and a completed one is skipped on re-run.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import stat
import zipfile
import zlib
from pathlib import Path, PurePosixPath, PureWindowsPath

from tqdm import tqdm

from data_scripts.download import file_md5
from data_scripts.ravdess_facts import FILE_NAME_PATTERN, MAX_MEMBER_BYTES, parse_file_name

logger = logging.getLogger(__name__)

COMPLETE_MARKER = ".complete"
ACTOR_FOLDER_PATTERN = re.compile(r"^Actor_(\d\d)$")
COPY_BUFFER_SIZE = 1 << 20


def _refusal(zip_path: Path, member: str, reason: str) -> ValueError:
    return ValueError(f"{zip_path}: member {member!r} refused: {reason}")


def _actor_folder(name: str) -> int | None:
    match = ACTOR_FOLDER_PATTERN.match(name)
    if match is None or not 1 <= int(match.group(1)) <= 24:
        return None
    return int(match.group(1))


def _member_problem(info: zipfile.ZipInfo, vocal_channel: str | None) -> str | None:
    """Why a member may not be extracted, or None when it is a RAVDESS wav or actor folder."""
    name = info.filename
    if name.startswith(("/", "\\")) or PureWindowsPath(name).drive:
        return "absolute path"
    parts = [part for part in re.split(r"[/\\]", name) if part]
    if ".." in parts:
        return "path with '..' (would escape the destination)"
    if stat.S_ISLNK(info.external_attr >> 16):
        return "symbolic link"
    if "\\" in name:
        return "backslash in path"
    if info.is_dir():
        if len(parts) == 1 and _actor_folder(parts[0]) is not None:
            return None
        return "directory other than Actor_01/ .. Actor_24/"
    if len(parts) != 2:
        return "not of the form Actor_XX/<RAVDESS name>.wav"
    folder, file_name = parts
    folder_actor = _actor_folder(folder)
    if folder_actor is None:
        return f"folder {folder!r} is not Actor_01 .. Actor_24"
    try:
        parsed = parse_file_name(file_name)
    except ValueError as error:
        return str(error)
    if parsed.actor != folder_actor:
        return f"actor {parsed.actor:02d} in the file name, but folder {folder}"
    if vocal_channel is not None and parsed.vocal_channel != vocal_channel:
        return f"a {parsed.vocal_channel} file in the {vocal_channel} archive"
    return None


def open_archive(zip_path: Path) -> zipfile.ZipFile:
    """The zip, or ValueError naming it when it is truncated or not a zip at all."""
    try:
        return zipfile.ZipFile(zip_path)
    except zipfile.BadZipFile as error:
        raise ValueError(
            f"{zip_path}: not a readable zip archive ({error}); the file is truncated or "
            "corrupt: download it again"
        ) from error


def check_members(
    zip_path: Path, vocal_channel: str | None = None, max_member_bytes: int = MAX_MEMBER_BYTES
) -> list[zipfile.ZipInfo]:
    """The archive's members, all checked; raise ValueError naming the first refused member."""
    with open_archive(zip_path) as archive:
        members = archive.infolist()
    seen: set[str] = set()
    for info in members:
        problem = _member_problem(info, vocal_channel)
        if problem is None and info.filename in seen:
            problem = "duplicate member"
        if problem is None and info.file_size > max_member_bytes:
            problem = _too_large(info.file_size, max_member_bytes, "declares")
        if problem is not None:
            raise _refusal(zip_path, info.filename, problem)
        seen.add(info.filename)
    return members


def _too_large(size: int, limit: int, verb: str) -> str:
    return (
        f"{verb} {size} bytes, more than any RAVDESS file could hold ({limit} bytes at most); "
        "a zip bomb or not RAVDESS"
    )


def stream_member(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, sink, max_member_bytes: int = MAX_MEMBER_BYTES
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
                    raise _refusal(
                        zip_path, info.filename, _too_large(written, max_member_bytes, "streams")
                    )
                sink.write(chunk)
    except (zipfile.BadZipFile, EOFError, zlib.error) as error:
        raise _refusal(zip_path, info.filename, f"corrupt data ({error})") from error
    return written


def _is_complete(destination: Path, archive_md5: str) -> bool:
    marker = destination / COMPLETE_MARKER
    return marker.is_file() and marker.read_text().strip() == archive_md5


def extracted_files(destination: Path) -> list[Path]:
    """The wav files of an extracted archive, sorted."""
    return sorted(destination.glob("Actor_*/*.wav"))


def extract_archive(
    zip_path: Path, destination: Path, vocal_channel: str | None = None
) -> list[Path]:
    """Extract a RAVDESS zip to `destination/Actor_XX/*.wav`; return the wav paths, sorted.

    `vocal_channel` ("speech" or "song"), when given, also refuses files of the other channel.
    Skipped when `destination` holds a marker with this archive's MD5.
    """
    zip_path, destination = Path(zip_path), Path(destination)
    archive_md5 = file_md5(zip_path)
    if _is_complete(destination, archive_md5):
        logger.info("%s already extracted to %s; skipped", zip_path.name, destination)
        return extracted_files(destination)
    members = check_members(zip_path, vocal_channel)
    if destination.exists() and not _written_by_extraction(destination):
        raise ValueError(
            f"{destination}: holds files other than Actor_XX/<RAVDESS name>.wav; refusing to "
            "replace it (move them away, or choose another --data_dir)"
        )
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
                    stream_member(archive, info, sink)
        (staging / COMPLETE_MARKER).write_text(archive_md5 + "\n")
        _move_into_place(staging, destination)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    logger.info("extracted %s to %s", zip_path.name, destination)
    return extracted_files(destination)


def _written_by_extraction(destination: Path) -> bool:
    """True when `destination` is a folder holding nothing but what extraction writes."""
    if not destination.is_dir():
        return False
    for path in destination.rglob("*"):
        parts = path.relative_to(destination).parts
        if path.is_dir() and len(parts) == 1 and _actor_folder(parts[0]) is not None:
            continue
        if path.is_file() and parts == (COMPLETE_MARKER,):
            continue
        if (
            path.is_file()
            and len(parts) == 2
            and _actor_folder(parts[0]) is not None
            and FILE_NAME_PATTERN.match(parts[1])
        ):
            continue
        return False
    return True


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
