"""The HTTP API and the page: FastAPI routes over the scoring pool.

    GET  /              the page (page/index.html: upload or record; bars, timeline)
    POST /v1/classify   body = an audio file's bytes; ?timeline=true adds windows and segments
    GET  /v1/health     {"status": "ok", workers, queue_size, scoring, waiting, served}
    GET  /v1/model      labels, windows, backend, limits, the export manifest's summary

An answer is what `ser-predict --json` writes for one file (EmotionClassifier.classify_file, or
.timeline when asked for the timeline), `file` set to the `name` the client gave (never opened).
Every refusal is JSON `{"error": "one line"}` with a 4xx status (503 with Retry-After when the
queue is full); nothing a client sends reaches a traceback. The body goes to a file in a private
temporary folder (mode 0700) that is removed when the request ends; it is refused with 413 from
its Content-Length before it is read, or as soon as more than the limit has arrived.
"""

from __future__ import annotations

import logging
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import soundfile
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from training.serving.scoring_pool import PoolFull, ScoringPool

logger = logging.getLogger(__name__)
PAGE = Path(__file__).with_name("page") / "index.html"
UPLOAD_NAME = "upload"
_TRUE, _FALSE = ("true", "1", "yes"), ("false", "0", "no")


@dataclass(frozen=True)
class Limits:
    max_bytes: int
    max_seconds: float
    temp_root: Path  # a private folder (0700) the uploads live in while they are scored


class Refusal(Exception):
    """A request the server turns away: HTTP status, one-line message, extra headers."""

    def __init__(self, status: int, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}


def _error(status: int, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": " ".join(str(message).split())}, status, headers=headers)


def _flag(request: Request, name: str) -> bool:
    value = request.query_params.get(name, "false").lower()
    if value not in _TRUE + _FALSE:
        raise Refusal(400, f"?{name}={value}: give true or false")
    return value in _TRUE


def _client_name(request: Request) -> str:
    """The name the answer's `file` shows: the client's ?name= reduced to a plain file name
    (a label only: the server never opens it)."""
    raw = request.query_params.get("name") or UPLOAD_NAME
    name = re.sub(r"[^\w.\- ]", "_", raw.replace("\\", "/").rsplit("/", 1)[-1])[:200]
    return name.strip(". ") or UPLOAD_NAME


async def receive_body(request: Request, path: Path, max_bytes: int) -> int:
    """Write the body to `path`; 413 before reading when Content-Length says it is too large,
    or as soon as more than `max_bytes` has arrived (a body without a length)."""
    limit_mb = max_bytes / 2**20
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise Refusal(400, f"Content-Length {declared!r} is not a number")
        if int(declared) > max_bytes:
            raise Refusal(413, f"too large: {int(declared)} bytes; this server takes at most "
                               f"{limit_mb:g} MB (--max_upload_mb)")  # fmt: skip
    size = 0
    with open(path, "wb") as handle:
        try:
            async for chunk in request.stream():
                size += len(chunk)
                if size > max_bytes:
                    raise Refusal(413, f"too large: more than {limit_mb:g} MB (--max_upload_mb)")
                handle.write(chunk)
        except ClientDisconnect:
            raise Refusal(400, "the client went away before the whole body arrived") from None
    return size


def _check_audio(path: Path, max_seconds: float) -> None:
    """415 for bytes libsndfile cannot read, 413 for more audio than the server takes."""
    try:
        info = soundfile.info(str(path))
    except (soundfile.LibsndfileError, RuntimeError) as error:
        reason = str(error).replace(str(path), UPLOAD_NAME)
        raise Refusal(415, f"not audio that libsndfile reads (WAV, FLAC, Ogg, MP3, ...): "
                           f"{reason}") from error  # fmt: skip
    seconds = info.frames / info.samplerate if info.samplerate else 0.0
    if seconds > max_seconds:
        raise Refusal(413, f"too long: {seconds:.1f} s of audio; this server takes at most "
                           f"{max_seconds:g} s (--max_seconds)")  # fmt: skip


def _refusal_for(error: ValueError, path: Path, name: str) -> Refusal:
    """The status of a decoding or scoring refusal, its message naming the client's name."""
    message = str(error).replace(str(path), name).replace(str(path.parent), "")
    if "cannot decode audio" in message:
        return Refusal(415, message)
    if "holds no audio samples" in message or "truncated" in message or "ends early" in message:
        return Refusal(400, message)
    return Refusal(422, message)  # NaN samples, too short for the model, unscorable


def create_app(pool: ScoringPool, facts: dict, limits: Limits) -> FastAPI:
    """The application: routes, JSON errors, and the pool it scores with."""
    # The interactive API docs are left out: their page loads its scripts from a CDN.
    app = FastAPI(title="ser-serve", docs_url=None, redoc_url=None, openapi_url=None)
    page = PAGE.read_text()

    @app.exception_handler(Refusal)
    async def refused(request: Request, refusal: Refusal):
        logger.info("%s %s refused (%d): %s", request.method, request.url.path,
                    refusal.status, refusal.message)  # fmt: skip
        return _error(refusal.status, refusal.message, refusal.headers)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException):
        if error.status_code == 405:
            message = f"method {request.method} is not allowed on {request.url.path}"
        elif error.status_code == 404:
            message = (f"no such page: {request.url.path} (the API: POST /v1/classify, "
                       "GET /v1/health, GET /v1/model)")  # fmt: skip
        else:
            message = str(error.detail)
        return _error(error.status_code, message, getattr(error, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError):
        return _error(400, f"bad request: {error.errors()[0].get('msg', 'invalid')}")

    @app.exception_handler(Exception)
    async def crashed(request: Request, error: Exception):
        logger.error("internal error on %s", request.url.path, exc_info=error)
        return _error(500, f"internal error ({type(error).__name__}); the server log has it")

    @app.get("/", response_class=HTMLResponse)
    async def index() -> HTMLResponse:
        return HTMLResponse(page)

    @app.get("/v1/health")
    async def health() -> dict:
        return {"status": "ok", **pool.state()}

    @app.get("/v1/model")
    async def model() -> dict:
        return facts

    @app.post("/v1/classify")
    async def classify(request: Request) -> JSONResponse:
        with_timeline = _flag(request, "timeline")
        name = _client_name(request)
        try:
            pool.admit()
        except PoolFull as full:
            raise Refusal(503, str(full), {"Retry-After": str(full.retry_after)}) from None
        folder = Path(tempfile.mkdtemp(prefix="request-", dir=limits.temp_root))
        try:
            path = folder / UPLOAD_NAME
            if await receive_body(request, path, limits.max_bytes) == 0:
                raise Refusal(400, "empty body: send the audio file's bytes as the request body")
            await run_in_threadpool(_check_audio, path, limits.max_seconds)
            try:
                # The same answer either way; the timeline's windows cost more for short clips.
                result = await pool.run(
                    lambda c: c.timeline(path) if with_timeline else c.classify_file(path)
                )
            except ValueError as error:
                raise _refusal_for(error, path, name) from None
        finally:
            shutil.rmtree(folder, ignore_errors=True)
            pool.leave()
        result["file"] = name
        if not with_timeline:
            result.pop("timeline", None)
        return JSONResponse(result)

    return app
