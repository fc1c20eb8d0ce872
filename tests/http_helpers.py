"""A real HTTP file server on 127.0.0.1 with Range support and faults a test can switch on.

    with serve_directory(root, fail_first=2) as server:
        download_file(f"{server.url}/name.zip", ...)
        assert [r.status for r in server.requests] == [500, 500, 200]

The server runs in a thread on an ephemeral port and is shut down when the `with` block ends;
its sockets time out so that a stuck client cannot hang the test session.
"""

from __future__ import annotations

import re
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

RANGE_PATTERN = re.compile(r"^bytes=(\d+)-$")
SOCKET_TIMEOUT_SECONDS = 10


@dataclass
class Faults:
    """What goes wrong. Counts refer to GET requests in the order they arrive."""

    drop_after_bytes: int | None = None  # first GET: close the connection after this many bytes
    fail_first: int = 0  # answer the first K GETs with `fail_status`
    fail_status: int = 500
    always_status: int | None = None  # answer every GET with this status
    ignore_range: bool = False  # answer Range requests with 200 and the whole file


@dataclass(frozen=True)
class Request:
    path: str
    range: str | None
    status: int


class FileServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, root: Path, faults: Faults):
        self.root = Path(root)
        self.faults = faults
        self.requests: list[Request] = []
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def record(self, path: str, range_header: str | None, status: int) -> int:
        """Log a request; return how many GETs came before it."""
        with self.lock:
            self.requests.append(Request(path, range_header, status))
            return len(self.requests) - 1


class _Handler(BaseHTTPRequestHandler):
    server: FileServer
    timeout = SOCKET_TIMEOUT_SECONDS

    def log_message(self, format, *args):
        pass  # keep pytest output clean

    def do_GET(self):
        faults = self.server.faults
        path = self.server.root / unquote(urlsplit(self.path).path).lstrip("/")
        range_header = self.headers.get("Range")
        with self.server.lock:
            index = len(self.server.requests)
        if faults.always_status is not None or index < faults.fail_first:
            status = faults.always_status or faults.fail_status
            self.server.record(self.path, range_header, status)
            self.send_error(status)
            return
        if not path.is_file():
            self.server.record(self.path, range_header, 404)
            self.send_error(404)
            return
        data = path.read_bytes()
        start = 0
        match = RANGE_PATTERN.match(range_header or "")
        if match and not faults.ignore_range:
            start = int(match.group(1))
            if start >= len(data):
                self.server.record(self.path, range_header, 416)
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            status = 206
        else:
            status = 200
        index = self.server.record(self.path, range_header, status)
        body = data[start:]
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.end_headers()
        if index == 0 and faults.drop_after_bytes is not None:
            self.wfile.write(body[: faults.drop_after_bytes])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)


@contextmanager
def serve_directory(root: Path, **faults):
    """Serve the files in `root` until the block ends; keyword arguments are `Faults` fields."""
    server = FileServer(root, Faults(**faults))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=SOCKET_TIMEOUT_SECONDS)
