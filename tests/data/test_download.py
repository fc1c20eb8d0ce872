"""common.download against a real HTTP server on 127.0.0.1 serving the sample archives."""

from __future__ import annotations

import hashlib
import logging
import re

import pytest
from http_helpers import serve_directory

from data_scripts.common.download import DownloadError, download_file, part_path

# No waiting between retries: the behaviour under test is the retry, not the clock.
NO_BACKOFF = 0.0
# Small chunks so that an interrupted transfer has written part of the file before it breaks.
SMALL_CHUNK = 1 << 16


@pytest.fixture
def archive(sample_archives):
    return sample_archives["song"]


def fetch(server, archive, destination, **options):
    options.setdefault("backoff", NO_BACKOFF)
    options.setdefault("chunk_size", SMALL_CHUNK)
    return download_file(f"{server.url}/{archive.path.name}", destination, **options)


def md5_of(path):
    return hashlib.md5(path.read_bytes()).hexdigest()


def test_interrupted_transfer_resumes_with_range_request(archive, tmp_path):
    destination = tmp_path / archive.path.name
    drop_after = archive.size // 3
    with serve_directory(archive.path.parent, drop_after_bytes=drop_after) as server:
        result = fetch(
            server,
            archive,
            destination,
            expected_size=archive.size,
            expected_md5=archive.md5,
            retries=2,
        )
    assert result == destination
    assert md5_of(destination) == archive.md5
    first, second = server.requests
    assert (first.range, first.status) == (None, 200)
    resumed_from = int(re.fullmatch(r"bytes=(\d+)-", second.range).group(1))
    assert 0 < resumed_from <= drop_after
    assert second.status == 206
    assert not part_path(destination).exists()


def test_part_left_by_earlier_run_is_resumed(archive, tmp_path):
    destination = tmp_path / archive.path.name
    head = archive.path.read_bytes()[:12345]
    part_path(destination).write_bytes(head)
    with serve_directory(archive.path.parent) as server:
        fetch(server, archive, destination, expected_size=archive.size, expected_md5=archive.md5)
    assert [(r.range, r.status) for r in server.requests] == [("bytes=12345-", 206)]
    assert md5_of(destination) == archive.md5


def test_server_ignoring_range_restarts_from_zero(archive, tmp_path):
    destination = tmp_path / archive.path.name
    part_path(destination).write_bytes(b"\0" * 5000)  # wrong bytes: appending would corrupt
    with serve_directory(archive.path.parent, ignore_range=True) as server:
        fetch(server, archive, destination, expected_size=archive.size, expected_md5=archive.md5)
    assert [(r.range, r.status) for r in server.requests] == [("bytes=5000-", 200)]
    assert md5_of(destination) == archive.md5


def test_range_not_satisfiable_for_complete_part_keeps_it(archive, tmp_path):
    destination = tmp_path / archive.path.name
    part_path(destination).write_bytes(archive.path.read_bytes())
    with serve_directory(archive.path.parent) as server:
        # No expected size: only the server can say that the part is already whole.
        fetch(server, archive, destination, expected_md5=archive.md5)
    assert [r.status for r in server.requests] == [416]
    assert md5_of(destination) == archive.md5


def test_wrong_md5_refused_and_nothing_kept(archive, tmp_path):
    destination = tmp_path / archive.path.name
    wrong_md5 = "0" * 32
    with serve_directory(archive.path.parent) as server:
        with pytest.raises(ValueError) as raised:
            fetch(server, archive, destination, expected_size=archive.size, expected_md5=wrong_md5)
    message = str(raised.value)
    assert archive.path.name in message
    assert wrong_md5 in message and archive.md5 in message
    assert not destination.exists()
    assert not part_path(destination).exists()


def test_wrong_size_refused_and_nothing_kept(archive, tmp_path):
    destination = tmp_path / archive.path.name
    with serve_directory(archive.path.parent) as server:
        with pytest.raises(ValueError, match=f"size {archive.size} bytes, expected 1000 bytes"):
            fetch(server, archive, destination, expected_size=1000)
    assert list(tmp_path.iterdir()) == []


def test_server_error_retried_then_succeeds(archive, tmp_path):
    destination = tmp_path / archive.path.name
    with serve_directory(archive.path.parent, fail_first=2) as server:
        fetch(server, archive, destination, expected_md5=archive.md5, retries=3)
    assert [r.status for r in server.requests] == [500, 500, 200]
    assert md5_of(destination) == archive.md5


def test_too_many_requests_is_retried(archive, tmp_path):
    destination = tmp_path / archive.path.name
    with serve_directory(archive.path.parent, fail_first=1, fail_status=429) as server:
        fetch(server, archive, destination, expected_md5=archive.md5, retries=1)
    assert [r.status for r in server.requests] == [429, 200]


def test_persistent_server_error_reported_with_url_and_status(archive, tmp_path):
    destination = tmp_path / archive.path.name
    with serve_directory(archive.path.parent, always_status=503) as server:
        url = f"{server.url}/{archive.path.name}"
        with pytest.raises(DownloadError) as raised:
            fetch(server, archive, destination, expected_md5=archive.md5, retries=2)
    assert url in str(raised.value)
    assert "HTTP 503" in str(raised.value)
    assert len(server.requests) == 3
    assert not destination.exists()


def test_client_error_fails_without_retry(archive, tmp_path):
    destination = tmp_path / "missing.zip"
    with serve_directory(archive.path.parent) as server:
        url = f"{server.url}/missing.zip"
        with pytest.raises(DownloadError, match=re.escape(url) + ".*HTTP 404"):
            download_file(url, destination, expected_md5=archive.md5, backoff=NO_BACKOFF)
    assert len(server.requests) == 1
    assert not destination.exists()


def test_verified_file_not_fetched_again(archive, tmp_path):
    destination = tmp_path / archive.path.name
    with serve_directory(archive.path.parent) as server:
        fetch(server, archive, destination, expected_size=archive.size, expected_md5=archive.md5)
        fetch(server, archive, destination, expected_size=archive.size, expected_md5=archive.md5)
    assert len(server.requests) == 1


def test_corrupt_final_file_fetched_again(archive, tmp_path):
    destination = tmp_path / archive.path.name
    destination.write_bytes(b"not the archive")
    with serve_directory(archive.path.parent) as server:
        fetch(server, archive, destination, expected_size=archive.size, expected_md5=archive.md5)
    assert len(server.requests) == 1
    assert md5_of(destination) == archive.md5


def test_download_without_checksums_warns(archive, tmp_path, caplog):
    destination = tmp_path / archive.path.name
    with caplog.at_level(logging.WARNING), serve_directory(archive.path.parent) as server:
        fetch(server, archive, destination)
    assert md5_of(destination) == archive.md5
    assert any("not verified" in record.message for record in caplog.records)
