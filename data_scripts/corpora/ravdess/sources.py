"""Where each RAVDESS clip's bytes are: the mapping CSV's rows (checked against their file
names) or the archives' members (their fingerprint: data_scripts.common.arrow_cache)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from data_scripts.corpora.ravdess.archives import check_members
from data_scripts.corpora.ravdess.facts import ARCHIVES, parse_file_name
from data_scripts.corpora.ravdess.mapping import MAPPING_FILE_NAME, read_mapping


@dataclass(frozen=True)
class AudioSource:
    """Where one clip's bytes are: a file on disk, or a member of a zip archive."""

    file: str  # the RAVDESS file name
    path: str  # the wav file, or the zip archive holding it
    member: str | None = None  # the member name inside `path` when it is an archive


def sources_from_data_dir(data_dir: Path, vocal_channels: tuple[str, ...]) -> list[AudioSource]:
    """The mapping CSV's rows of the chosen channels; ValueError when one contradicts its name."""
    csv_path = data_dir / MAPPING_FILE_NAME
    if not csv_path.is_file():
        raise FileNotFoundError(
            f"{csv_path}: no mapping CSV; run data_scripts/download_and_map_emotion_data.py first"
        )
    sources = []
    for line, row in enumerate(read_mapping(csv_path), start=2):
        name = parse_file_name(row["audio_name"])
        where = f"{csv_path}, line {line} ({row['audio_name']})"
        if row["audio_type"] != name.vocal_channel or row["emotion"] != name.emotion_code:
            raise ValueError(
                f"{where}: says {row['audio_type']}, emotion {row['emotion']}, but the file "
                f"name says {name.vocal_channel}, emotion {name.emotion_code}"
            )
        if row["emotion_name"] != name.emotion:
            raise ValueError(
                f"{where}: emotion_name {row['emotion_name']!r} but emotion {row['emotion']} "
                f"is {name.emotion!r}"
            )
        # Labels come from audio_name; the audio from audio_path: they must be the same file.
        if Path(row["audio_path"]).name != row["audio_name"]:
            raise ValueError(
                f"{where}: audio_path {row['audio_path']} is not the file {row['audio_name']}; "
                "the labels would belong to another clip (rerun the download script to rebuild "
                "the CSV)"
            )
        if name.vocal_channel in vocal_channels:
            sources.append(AudioSource(name.file_name, str(data_dir / row["audio_path"])))
    return sources


def sources_from_archives(archive_dir: Path, vocal_channels: tuple[str, ...]) -> list[AudioSource]:
    """Every wav member of the chosen channels' archives, checked as the extractor checks them."""
    sources = []
    for archive in ARCHIVES:
        if archive.audio_type not in vocal_channels:
            continue
        path = archive_dir / archive.file_name
        if not path.is_file():
            raise FileNotFoundError(f"{path}: archive not found in the archive folder")
        for info in check_members(path, vocal_channel=archive.audio_type):
            if not info.is_dir():
                file_name = info.filename.rsplit("/", 1)[-1]
                sources.append(AudioSource(file_name, str(path), info.filename))
    return sources
