"""Ship a trained classifier: a clean model directory, verified, optionally with ONNX and int8
(`ser-export SOURCE DEST [--fold K] [--onnx] [--quantize int8]`, `ser-export --check DEST`).

SOURCE is a finished training run, one fold of a cross-validation (`--fold K`), or any
`save_pretrained` audio-classification directory. DEST gets the model, its card, the run's
per-file results and `manifest.json`, and nothing else: no checkpoints, optimizer or RNG state,
no pickles, locks or logs. It is built in a staging folder beside DEST, checked in a fresh
process with plain `pipeline` (training.inference.export_check), and only then renamed into
place, so a failed or killed export leaves no DEST or the complete one.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from data_scripts.common.cli_errors import USER_ERRORS, fail
from data_scripts.common.command_logging import setup_logging
from training.inference.export_options import parse_options
from training.inference.manifest import MANIFEST_NAME, check_export

logger = logging.getLogger(__name__)
# The export itself (training.inference.export_build: the classifier, torch, ONNX) is imported
# after the options are parsed; callers and tests have always found these names here.
_BUILD_NAMES = ("MODEL_FILES", "RUN_FILES", "_onnx_forms", "check_dest", "check_source",
                "export_model", "resolve_source")  # fmt: skip


def __getattr__(name: str):
    if name in _BUILD_NAMES:
        from training.inference import export_build

        return getattr(export_build, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main(argv: list[str] | None = None) -> int:
    args, debug = parse_options(argv)
    setup_logging(debug)
    if args.check:
        return _check(Path(args.check), debug)
    from training.inference import export_build  # the classifier, torch: only now

    export_build.logger = logger  # its lines keep the command's name (`__main__` as `-m`)
    try:
        manifest = export_build.export_model(args.source, args.dest, args)
    except USER_ERRORS as error:
        fail(error, debug)
    checked = manifest["verification"]["pipeline"]
    print(
        f"exported to {args.dest}: {len(manifest['files'])} files; pipeline matches "
        f"{checked['reference']} on {checked['clips']} clips"
    )
    return 0


def _check(dest: Path, debug: bool) -> int:
    try:
        problems = check_export(dest)
    except USER_ERRORS as error:
        fail(error, debug)
    for problem in problems:
        print(f"{dest}: {problem}", file=sys.stderr)
    if problems:
        print(f"error: {dest}: {len(problems)} files differ from {MANIFEST_NAME}", file=sys.stderr)
        return 1
    print(f"{dest}: every file matches {MANIFEST_NAME}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
