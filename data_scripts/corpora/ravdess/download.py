"""Fetch RAVDESS's two audio-only archives, extract them, and map every file to its labels.

The download command (`ser-download`):

    python data_scripts/download_and_map_emotion_data.py --data_dir data
    python -m data_scripts.download_and_map_emotion_data --archive_dir ~/Downloads

Layout written under --data_dir (the original project's):
    archives/Audio_{Speech,Song}_Actors_01-24.zip   (downloads only)
    classification_data/speech/Actor_XX/*.wav
    classification_data/songs/Actor_XX/*.wav
    emotional_data_mappings.csv
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from urllib.parse import urlsplit

from data_scripts.common.cli_errors import USER_ERRORS, fail, pop_debug_flag
from data_scripts.common.download import DownloadError, download_file, verify_file
from data_scripts.common.folder_lock import folder_lock
from data_scripts.common.writable import check_writable
from data_scripts.corpora.ravdess.archives import extract_archive
from data_scripts.corpora.ravdess.facts import ARCHIVES, DEFAULT_BASE_URL
from data_scripts.corpora.ravdess.mapping import (
    CLASSIFICATION_FOLDER,
    MappingSummary,
    map_emotion_data,
)

logger = logging.getLogger(__name__)

ARCHIVE_FOLDER = "archives"
ZENODO_HOST = "zenodo.org"
# Zenodo's /records/<id>/files/<name> answers with an HTML preview page unless asked for the file.
ZENODO_DOWNLOAD_QUERY = "?download=1"


def archive_url(base_url: str, file_name: str) -> str:
    """`<base_url>/<file_name>`, with Zenodo's download query where the host is Zenodo."""
    url = f"{base_url.rstrip('/')}/{file_name}"
    host = urlsplit(base_url).hostname or ""
    if host == ZENODO_HOST or host.endswith("." + ZENODO_HOST):
        url += ZENODO_DOWNLOAD_QUERY
    return url


def download_and_map(
    data_dir: Path | str,
    base_url: str = DEFAULT_BASE_URL,
    archive_dir: Path | str | None = None,
    verify: bool = True,
    checksums: dict[str, tuple[int, str]] | None = None,
) -> MappingSummary:
    """Get both archives (downloaded, or from `archive_dir` without any network), extract, map.

    `checksums` ({file_name: (size, md5)}) replaces the official values, for mirrors and tests;
    `verify=False` checks nothing (with a warning).
    """
    data_dir = Path(data_dir)
    check_writable(data_dir, "--data_dir")  # before any download
    checksums = checksums or {}
    if not verify:
        logger.warning("--no_verify: archive sizes and MD5s are not checked")
    # One download per data folder at a time: they would share the `.part` files and the
    # extraction's staging folder. A second run waits, then finds everything verified.
    with folder_lock(data_dir, "download"):
        for archive in ARCHIVES:
            size, md5 = checksums.get(archive.file_name, (archive.size, archive.md5))
            if not verify:
                size, md5 = None, None
            if archive_dir is not None:
                path = Path(archive_dir) / archive.file_name
                if not path.is_file():
                    raise FileNotFoundError(f"{path}: archive not found in --archive_dir")
                if verify:
                    verify_file(path, size, md5)
            else:
                path = download_file(
                    archive_url(base_url, archive.file_name),
                    data_dir / ARCHIVE_FOLDER / archive.file_name,
                    expected_size=size,
                    expected_md5=md5,
                )
            destination = data_dir / CLASSIFICATION_FOLDER / archive.folder
            extract_archive(path, destination, vocal_channel=archive.audio_type)
        return map_emotion_data(data_dir)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data_dir", default="./data", help="where everything is written")
    parser.add_argument(
        "--base_url",
        default=DEFAULT_BASE_URL,
        help="a mirror holding the two archive names, fetched as <base_url>/<name>",
    )
    parser.add_argument(
        "--archive_dir", default=None, help="use archives already on disk here; no network"
    )
    parser.add_argument(
        "--no_verify",
        action="store_true",
        help="skip the official size and MD5 checks (for mirrors of other data)",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    return parser


def main(argv: list[str] | None = None) -> int:
    debug, argv = pop_debug_flag(argv)
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        summary = download_and_map(
            args.data_dir, args.base_url, args.archive_dir, verify=not args.no_verify
        )
    except (DownloadError, *USER_ERRORS) as error:
        fail(error, debug)
    print(summary.format())
    return 0


if __name__ == "__main__":
    sys.exit(main())
