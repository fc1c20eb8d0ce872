"""`ser-serve MODEL_DIR`: the classifier behind an HTTP API and a web page (training.serving
.http_app), on uvicorn.

    ser-serve runs/small                      # http://127.0.0.1:8000/
    curl --data-binary @clip.wav 'http://127.0.0.1:8000/v1/classify?timeline=true'

The model is loaded once per worker before the port opens; a model that cannot be loaded stops
the command in one line (exit 2). It binds 127.0.0.1 unless --host says otherwise, and warns
when that reaches other machines: there is no authentication.
"""

from __future__ import annotations

import logging
import shutil
import sys
import tempfile
from pathlib import Path

from data_scripts.common.command_logging import setup_logging
from data_scripts.common.command_options import CommandParser
from training.inference.manifest import read_manifest
from training.serving.scoring_pool import ScoringPool
from training.serving.serving_options import ServeOptions

logger = logging.getLogger(__name__)
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


def build_parser() -> CommandParser:
    return CommandParser(
        ServeOptions,
        prog="ser-serve",
        description="Serve a saved emotion classifier: a web page at / and an HTTP API\n"
        "(POST /v1/classify, GET /v1/health, GET /v1/model).",
    )


def model_facts(classifier, args: ServeOptions) -> dict:
    """What GET /v1/model answers: labels, windows, backend, limits, the export's manifest;
    for a model with targets also task, targets and target_ranges ({target: [min, max]})."""
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
    if classifier.targets:  # a regression or multitask model; a classifier's facts as before
        facts.update(task=classifier.task, targets=classifier.targets,
                     target_ranges=classifier.target_ranges)  # fmt: skip
    manifest = read_manifest(Path(args.model_dir))
    if manifest is not None:
        facts["manifest"] = {
            key: manifest.get(key)
            for key in ("format", "format_version", "source", "verification", "versions")
        }
        facts["manifest"]["files"] = sorted(manifest.get("files", {}))  # fmt: skip
    return facts


def _check(args: ServeOptions) -> None:
    if args.max_upload_mb <= 0 or args.max_seconds <= 0:
        raise ValueError("--max_upload_mb and --max_seconds must be positive")
    if args.workers < 1 or args.queue_size < 0:
        raise ValueError("--workers must be at least 1 and --queue_size 0 or more")
    if not 0 <= args.port <= 65535:
        raise ValueError(f"--port {args.port}: give 0-65535")


def main(argv: list[str] | None = None) -> int:
    args, debug = build_parser().parse_command(argv)
    setup_logging(debug)
    try:
        _check(args)
        # The model stack, once the options are known to be good.
        from training.serving.model_loading import load_classifier

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

    from training.serving.http_app import Limits, create_app

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
