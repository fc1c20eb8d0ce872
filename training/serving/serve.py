"""`ser-serve MODEL_DIR`: the classifier behind an HTTP API and a web page (training.serving
.http_app), on uvicorn.

    ser-serve runs/small                      # http://127.0.0.1:8000/
    curl --data-binary @clip.wav 'http://127.0.0.1:8000/v1/classify?timeline=true'

The model is loaded once per worker before the port opens; a model that cannot be loaded stops
the command in one line (exit 2). It binds 127.0.0.1 unless --host says otherwise, and warns
when that reaches other machines: there is no authentication.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import sys
import tempfile
from pathlib import Path

from data_scripts.common.cli_errors import pop_debug_flag
from training.inference.manifest import read_manifest
from training.serving.http_app import Limits, create_app
from training.serving.model_loading import add_model_arguments, load_classifier
from training.serving.scoring_pool import ScoringPool

logger = logging.getLogger(__name__)
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="ser-serve",
        description="Serve a saved emotion classifier: a web page at / and an HTTP API "
        "(POST /v1/classify, GET /v1/health, GET /v1/model).",
    )
    add_model_arguments(parser, "a training run, a fold or an export")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to bind (default 127.0.0.1: this machine only)")  # fmt: skip
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--max_upload_mb", type=float, default=50.0,
                        help="largest request body accepted (413 beyond)")  # fmt: skip
    parser.add_argument("--max_seconds", type=float, default=600.0,
                        help="longest recording accepted, in seconds (413 beyond)")  # fmt: skip
    parser.add_argument("--workers", type=int, default=1,
                        help="requests scored at once, each worker with its own copy of the "
                        "model (memory grows with it)")  # fmt: skip
    parser.add_argument("--queue_size", type=int, default=32,
                        help="requests that may wait for a worker; more get 503 with "
                        "Retry-After")  # fmt: skip
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    return parser.parse_args(argv)


def model_facts(classifier, args: argparse.Namespace) -> dict:
    """What GET /v1/model answers: labels, windows, backend, limits, the export's manifest."""
    facts = {
        "labels": classifier.labels,
        "sampling_rate": classifier.sampling_rate,
        "window_seconds": classifier.window_seconds,
        "hop_seconds": classifier.hop_seconds,
        "window_source": classifier.window_source,
        "trained_seconds": classifier.trained_seconds,
        "backend": classifier.backend,
        "onnx_file": Path(args.onnx_file).name if args.onnx_file else None,
        "device": classifier.device,
        "max_upload_mb": args.max_upload_mb,
        "max_seconds": args.max_seconds,
        "workers": args.workers,
        "queue_size": args.queue_size,
        "manifest": None,
    }
    manifest = read_manifest(Path(args.model_dir))
    if manifest is not None:
        facts["manifest"] = {
            key: manifest.get(key)
            for key in ("format", "format_version", "source", "verification", "versions")
        }
        facts["manifest"]["files"] = sorted(manifest.get("files", {}))  # fmt: skip
    return facts


def _check(args: argparse.Namespace) -> None:
    if args.max_upload_mb <= 0 or args.max_seconds <= 0:
        raise ValueError("--max_upload_mb and --max_seconds must be positive")
    if args.workers < 1 or args.queue_size < 0:
        raise ValueError("--workers must be at least 1 and --queue_size 0 or more")
    if not 0 <= args.port <= 65535:
        raise ValueError(f"--port {args.port}: give 0-65535")


def main(argv: list[str] | None = None) -> int:
    debug, argv = pop_debug_flag(argv)
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        _check(args)
        classifiers = [
            load_classifier(args.model_dir, args.backend, args.onnx_file, args.device)
            for _ in range(args.workers)
        ]
    except ValueError as error:  # a bad option, or the model cannot be loaded (one line)
        if debug:
            logger.exception("traceback")
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    if args.host not in LOCAL_HOSTS:
        print(f"warning: --host {args.host} makes the server reachable from other machines; "
              "it has no authentication: put it behind a proxy that has",
              file=sys.stderr)  # fmt: skip
    import uvicorn

    temp_root = Path(tempfile.mkdtemp(prefix="ser-serve-"))  # mode 0700: this user's only
    try:
        pool = ScoringPool(classifiers, args.queue_size)
        limits = Limits(round(args.max_upload_mb * 2**20), args.max_seconds, temp_root)
        app = create_app(pool, model_facts(classifiers[0], args), limits)
        print(f"ser-serve: http://{args.host}:{args.port}/ ({args.workers} worker(s), "
              f"{args.backend}); Ctrl-C stops it", file=sys.stderr, flush=True)  # fmt: skip
        uvicorn.run(app, host=args.host, port=args.port, log_level="info" if debug else "warning")
    except OSError as error:  # the port is taken, the address cannot be bound
        print(f"error: --host {args.host} --port {args.port}: {error}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        shutil.rmtree(temp_root, ignore_errors=True)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
