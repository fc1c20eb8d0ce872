"""Resumable, verified HTTP download of one file.

The RAVDESS archives are 200+ MB each on a server that sometimes drops connections, so a
transfer streams into `<name>.part`, resumes it with an HTTP Range request, retries transient
errors with exponential backoff, and only a file whose size and MD5 check out is renamed to
its final name: nothing under a final name has failed verification.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import time
from pathlib import Path

import requests
from tqdm import tqdm

logger = logging.getLogger(__name__)

PART_SUFFIX = ".part"
TOO_MANY_REQUESTS = 429
RANGE_NOT_SATISFIABLE = 416
CONTENT_RANGE_PATTERN = re.compile(r"^bytes (\d+)-(\d+)/(\d+|\*)$")
CONTENT_RANGE_TOTAL_PATTERN = re.compile(r"^bytes \*/(\d+)$")
# Lost connections and timeouts are worth retrying; a malformed URL is not.
TRANSIENT_REQUEST_ERRORS = (
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    requests.exceptions.ChunkedEncodingError,
)


class DownloadError(RuntimeError):
    """A download that failed for good: a client error, or retries exhausted."""


class _TransientError(Exception):
    """A failure worth retrying: connection lost, timeout, HTTP 5xx or 429."""


def part_path(destination: Path) -> Path:
    """Where an unfinished transfer of `destination` lives."""
    return destination.with_name(destination.name + PART_SUFFIX)


def file_md5(path: Path) -> str:
    """MD5 hex digest of a file, read in chunks by hashlib so large archives need little
    memory."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "md5").hexdigest()


def verify_file(path: Path, expected_size: int | None, expected_md5: str | None) -> None:
    """Raise ValueError naming the file, the expected and the actual value on any mismatch."""
    actual_size = path.stat().st_size
    if expected_size is not None and actual_size != expected_size:
        raise ValueError(f"{path}: size {actual_size} bytes, expected {expected_size} bytes")
    if expected_md5 is not None:
        actual_md5 = file_md5(path)
        if actual_md5 != expected_md5.lower():
            raise ValueError(f"{path}: MD5 {actual_md5}, expected {expected_md5.lower()}")


def download_file(
    url: str,
    destination: Path,
    expected_size: int | None = None,
    expected_md5: str | None = None,
    retries: int = 5,
    backoff: float = 1.0,
    timeout: float = 60,
    chunk_size: int = 1 << 20,
) -> Path:
    """Fetch `url` to `destination` unless a verified copy is there; return `destination`.

    Retries `retries` times after the first attempt, sleeping `backoff * 2**k` seconds before
    retry k. Raises DownloadError when the server refuses or retries run out, ValueError when
    the finished transfer fails verification (the `.part` is then deleted).
    """
    destination = Path(destination)
    verifying = expected_size is not None or expected_md5 is not None
    if not verifying:
        logger.warning("%s: no expected size or MD5 given; the download is not verified", url)
    if destination.exists():
        if not verifying:
            logger.info("%s exists; not fetched again (unverified)", destination)
            return destination
        try:
            verify_file(destination, expected_size, expected_md5)
        except ValueError as error:
            logger.warning("%s; fetching it again", error)
            destination.unlink()
        else:
            logger.info("%s exists and is verified; not fetched again", destination)
            return destination
    destination.parent.mkdir(parents=True, exist_ok=True)
    part = part_path(destination)
    _fetch_with_retries(url, part, expected_size, retries, backoff, timeout, chunk_size)
    try:
        verify_file(part, expected_size, expected_md5)
    except ValueError:
        part.unlink()
        raise
    os.replace(part, destination)
    logger.info("downloaded %s", destination)
    return destination


def _fetch_with_retries(
    url: str,
    part: Path,
    expected_size: int | None,
    retries: int,
    backoff: float,
    timeout: float,
    chunk_size: int,
) -> None:
    attempts = retries + 1
    for attempt in range(1, attempts + 1):
        try:
            _fetch_once(url, part, expected_size, timeout, chunk_size)
            return
        except (_TransientError, *TRANSIENT_REQUEST_ERRORS) as error:
            if attempt == attempts:
                raise DownloadError(
                    f"{url}: download failed after {attempts} attempts; last error: {error}"
                ) from error
            delay = backoff * 2 ** (attempt - 1)
            logger.warning(
                "%s: attempt %d of %d failed (%s); retrying in %.1f s",
                url,
                attempt,
                attempts,
                error,
                delay,
            )
            time.sleep(delay)


def _fetch_once(
    url: str, part: Path, expected_size: int | None, timeout: float, chunk_size: int
) -> None:
    """One HTTP request that appends to `part`; returns once `part` holds the whole body."""
    offset = part.stat().st_size if part.exists() else 0
    if expected_size is not None and offset >= expected_size:
        if offset == expected_size:
            return  # a previous run received everything; verification decides
        logger.warning("%s holds %d bytes, more than %d; restarting", part, offset, expected_size)
        part.unlink()
        offset = 0
    # Identity encoding: the bytes counted against Content-Length are the bytes written.
    headers = {"Accept-Encoding": "identity"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    with requests.get(url, headers=headers, stream=True, timeout=timeout) as response:
        status = response.status_code
        if status == RANGE_NOT_SATISFIABLE and offset:
            match = CONTENT_RANGE_TOTAL_PATTERN.match(response.headers.get("Content-Range", ""))
            if match and int(match.group(1)) == offset:
                return  # the .part already holds the whole file
            part.unlink()
            raise _TransientError(f"HTTP {status} for a resume from byte {offset}; restarting")
        if status >= 500 or status == TOO_MANY_REQUESTS:
            raise _TransientError(f"HTTP {status} {response.reason}")
        if not 200 <= status < 300:
            raise DownloadError(f"{url}: HTTP {status} {response.reason}")
        if status == 206:
            start = _content_range_start(response)
            if start != offset:
                part.unlink(missing_ok=True)
                raise _TransientError(f"server resumed at byte {start}, asked for {offset}")
        elif offset:
            logger.warning("%s: server ignored the Range request; restarting from zero", url)
            offset = 0
        body_length = response.headers.get("Content-Length")
        total = offset + int(body_length) if body_length is not None else expected_size
        received = 0
        with (
            open(part, "ab" if offset else "wb") as handle,
            tqdm(
                total=total,
                initial=offset,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                desc=part.name.removesuffix(PART_SUFFIX),
            ) as progress,
        ):
            for chunk in response.iter_content(chunk_size=chunk_size):
                handle.write(chunk)
                received += len(chunk)
                progress.update(len(chunk))
        if body_length is not None and received != int(body_length):
            raise _TransientError(f"connection closed after {received} of {body_length} bytes")


def _content_range_start(response: requests.Response) -> int | None:
    match = CONTENT_RANGE_PATTERN.match(response.headers.get("Content-Range", ""))
    return int(match.group(1)) if match else None
