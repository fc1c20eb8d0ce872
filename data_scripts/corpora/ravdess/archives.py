"""What a RAVDESS archive may hold (`Actor_XX/<RAVDESS name>.wav`), and its safe extraction.

Every member is checked before anything is written: besides what no archive may hold
(data_scripts.common.extract), nothing but `Actor_XX/<RAVDESS name>.wav` with the folder's
number equal to the file's actor, of the archive's vocal channel, no larger than any RAVDESS
file could be. Extraction is staged and atomic (common.extract), and a destination holding
anything else is never replaced.
"""

from __future__ import annotations

import logging
import re
import zipfile
from pathlib import Path

from data_scripts.common.download import file_md5
from data_scripts.common.extract import (
    COMPLETE_MARKER,
    extract_staged,
    extraction_problem,
    is_complete,
    member_parts,
    open_archive,
    refusal,
    too_large,
    unsafe_path,
)
from data_scripts.common.extract import stream_member as stream_any_member
from data_scripts.common.folder_lock import folder_lock
from data_scripts.corpora.ravdess.facts import FILE_NAME_PATTERN, MAX_MEMBER_BYTES, parse_file_name

logger = logging.getLogger(__name__)

ACTOR_FOLDER_PATTERN = re.compile(r"^Actor_(\d\d)$")
CORPUS = "RAVDESS"


def _actor_folder(name: str) -> int | None:
    match = ACTOR_FOLDER_PATTERN.match(name)
    if match is None or not 1 <= int(match.group(1)) <= 24:
        return None
    return int(match.group(1))


def _member_problem(info: zipfile.ZipInfo, vocal_channel: str | None) -> str | None:
    """Why a member may not be extracted, or None when it is a RAVDESS wav or actor folder."""
    problem = unsafe_path(info)
    if problem is not None:
        return problem
    parts = member_parts(info.filename)
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
            problem = too_large(info.file_size, max_member_bytes, "declares", CORPUS)
        if problem is not None:
            raise refusal(zip_path, info.filename, problem)
        seen.add(info.filename)
    return members


def stream_member(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, sink, max_member_bytes: int = MAX_MEMBER_BYTES
) -> int:
    """common.extract.stream_member with RAVDESS's cap: ValueError past it. The byte count."""
    return stream_any_member(archive, info, sink, max_member_bytes, CORPUS)


def extracted_files(destination: Path) -> list[Path]:
    """The wav files of an extracted archive, sorted."""
    return sorted(destination.glob("Actor_*/*.wav"))


def extract_archive(
    zip_path: Path, destination: Path, vocal_channel: str | None = None
) -> list[Path]:
    """Extract a RAVDESS zip to `destination/Actor_XX/*.wav`; return the wav paths, sorted.

    `vocal_channel` ("speech" or "song"), when given, also refuses files of the other channel.
    Skipped when `destination` holds a marker with this archive's MD5 over all of its files.
    """
    zip_path, destination = Path(zip_path), Path(destination)
    members = check_members(zip_path, vocal_channel)  # before anything is created
    # One extraction per folder at a time: they would share the staging folder.
    with folder_lock(destination.parent, "extraction"):
        return _extract_locked(zip_path, members, destination)


def _extract_locked(
    zip_path: Path, members: list[zipfile.ZipInfo], destination: Path
) -> list[Path]:
    archive_md5 = file_md5(zip_path)
    if is_complete(destination, archive_md5):
        problem = extraction_problem(destination, members)
        if problem is None:
            logger.info("%s already extracted to %s; skipped", zip_path.name, destination)
            return extracted_files(destination)
        logger.warning(
            "%s: marked complete, but %s; extracting %s again", destination, problem, zip_path
        )
    if destination.exists() and not _written_by_extraction(destination):
        raise ValueError(
            f"{destination}: holds files other than Actor_XX/<RAVDESS name>.wav; refusing to "
            "replace it (move them away, or choose another --data_dir)"
        )
    extract_staged(zip_path, members, destination, archive_md5, MAX_MEMBER_BYTES, CORPUS)
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
