"""Classify audio files with any `AutoModelForAudioClassification` directory.

    python -m training.inference.predict --model_dir R clip.wav folder/ \
        [--json out.json] [--csv out.csv] [--timeline --csv_timeline t.csv --timeline_png DIR]

Files (those libsndfile opens: training.inference.audio_io) are decoded with the decode settings
saved with the model and classified by training.inference.classifier.EmotionClassifier: a file
no longer than the model's training clips is scored whole, as evaluation scored it (`scored:
whole`, the answer test_predictions.csv holds), and is `no speech` only when the voice-activity
detector hears nothing in it; a longer one is the mean over its speech windows (`scored:
windows`). Windows default to the length of the model's training clips
(training.model.window_facts); the timeline always shows them, `silence` where no one speaks.
Output paths are checked before any scoring (training.inference.output_paths). A file that
cannot be decoded or scored is reported by name and the rest are still processed.
Exit code: 0 all files classified, 1 some failed, 2 usage error (no files, no model, bad output).
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from tqdm.auto import tqdm

from data_scripts.common.command_logging import setup_logging
from training.inference.abstention import (
    apply_min_confidence,
    check_min_confidence,
    check_min_confidence_applies,
)
from training.inference.audio_io import AUDIO_EXTENSIONS, is_audio_file
from training.inference.choices import DEFAULT_BATCH_SIZE
from training.inference.output_paths import check_outputs, check_png_folder
from training.inference.predict_options import PredictOptions, build_parser
from training.model.window_facts import HOP_FRACTION

# window_starts: module __getattr__ below.
__all__ = ["PredictOptions", "find_audio_files", "main", "predict_files", "window_starts"]  # noqa: F822


def __getattr__(name: str):
    # window_starts lives with the windowing code, which imports torch: loaded on first use, so
    # that `ser-predict --help` does not.
    if name == "window_starts":
        from training.inference.windows import window_starts

        return window_starts
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


logger = logging.getLogger(__name__)

EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE = 0, 1, 2
MAX_SKIPPED_LISTED = 5


def find_audio_files(
    paths: list[str | Path], skipped: list[Path] | None = None
) -> tuple[list[Path], list[tuple[Path, str]]]:
    """Files named directly plus audio files (audio_io.is_audio_file) found in folders.

    Returns (files, missing) where missing lists paths that do not exist; the other files
    found in folders are appended to `skipped` when it is given.
    """
    files: list[Path] = []
    missing: list[tuple[Path, str]] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for found in sorted(p for p in path.rglob("*") if p.is_file()):
                if is_audio_file(found):
                    files.append(found)
                elif skipped is not None:
                    skipped.append(found)
        elif path.is_file():
            files.append(path)
        else:
            missing.append((path, "no such file or folder"))
    return list(dict.fromkeys(files)), missing


def _warn_skipped(skipped: list[Path]) -> None:
    listed = ", ".join(str(p) for p in skipped[:MAX_SKIPPED_LISTED])
    more = len(skipped) - MAX_SKIPPED_LISTED
    logger.warning(
        "skipped %d files that are not audio (libsndfile cannot open them): %s%s",
        len(skipped),
        listed,
        f" and {more} more" if more > 0 else "",
    )


def predict_files(
    model_dir: str | Path,
    paths: list[str | Path],
    batch_size: int = DEFAULT_BATCH_SIZE,
    window_seconds: float | None = None,
    hop_seconds: float | None = None,
    device: str = "auto",
    dtype: str = "float32",
    vad: str = "silero",
    smooth: int = 1,
    backend: str = "pytorch",
    onnx_file: str | None = None,
    timeline: bool = True,
) -> tuple[list[dict], list[tuple[Path, str]]]:
    """Classify every audio file in `paths` (files or folders) with the model in `model_dir`
    (EmotionClassifier, one file at a time).

    Returns (results, failures). Each result holds the fields of
    training.inference.file_answer.file_result and, with `timeline`, the `timeline` (windows
    and segments; without it a clip scored whole is not also scored window by window).
    failures: (path, reason) for files that are missing, undecodable, empty or unscorable.
    Raises ValueError when no audio file is found, an argument is out of range, or the model
    cannot be loaded (ClassifierLoadError).
    """
    if batch_size < 1:
        raise ValueError(f"--batch_size must be at least 1, got {batch_size}")
    if smooth < 1 or smooth % 2 == 0:
        raise ValueError(f"--smooth {smooth}: give an odd number of windows (1 = off)")
    skipped: list[Path] = []
    files, failures = find_audio_files(paths, skipped)
    if skipped:
        _warn_skipped(skipped)
    if not files:
        raise ValueError(f"no audio files (libsndfile formats: {'/'.join(AUDIO_EXTENSIONS)}) "
                         f"found in {paths}")  # fmt: skip
    from training.inference.classifier import EmotionClassifier  # torch: after the checks

    classifier = EmotionClassifier.from_pretrained(
        model_dir, backend=backend, onnx_file=onnx_file, device=device, dtype=dtype,
        batch_size=batch_size,
    )  # fmt: skip
    classifier.prepare_vad(vad)  # a detector that cannot run is a usage error, not per file
    source = "--window_seconds"
    if window_seconds is None:
        window_seconds, source = classifier.window_seconds, classifier.window_source
        hop_seconds = classifier.hop_seconds if hop_seconds is None else hop_seconds
    if hop_seconds is None:
        hop_seconds = round(window_seconds * HOP_FRACTION, 3)
    logger.info("windows of %.2f s every %.2f s (from %s)", window_seconds, hop_seconds, source)
    if classifier.trained_seconds:
        logger.info("clips up to %.2f s are scored whole, as evaluation scored them",
                    max(classifier.trained_seconds, window_seconds))  # fmt: skip
    onnx = f" ({classifier.onnx_file})" if classifier.onnx_file else ""
    logger.info(
        "classifying %d files on %s with %s%s", len(files), classifier.device, model_dir, onnx
    )
    results = []
    with tqdm(desc="scoring", unit="s audio", total=0) as progress:
        for path in files:
            try:
                if timeline:
                    result = classifier.timeline(path, window_seconds, hop_seconds, vad=vad,
                                                 smooth=smooth, progress=progress)  # fmt: skip
                else:
                    result = classifier.classify_file(
                        path, vad=vad, window_seconds=window_seconds, hop_seconds=hop_seconds,
                        progress=progress,
                    )  # fmt: skip
            except ValueError as error:
                failures.append((path, str(error).removeprefix(f"{path}: ")))
                continue
            results.append(result)
    return results, failures


def _layout(model_dir: Path):
    """The model's output layout, read from its config alone (before any weights are loaded)."""
    from transformers import AutoConfig

    from training.model.task_outputs import OutputLayout

    return OutputLayout.from_config(AutoConfig.from_pretrained(model_dir, trust_remote_code=False))


def main(argv: list[str] | None = None) -> int:
    args, debug = build_parser().parse_command(argv)
    setup_logging(debug)
    model_dir = Path(args.model_dir)
    if not (model_dir / "config.json").is_file():
        print(
            f"error: --model_dir {model_dir} is not a model directory (no config.json)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    outputs = {"--json": args.json, "--csv": args.csv,
               "--csv_timeline": args.csv_timeline}  # fmt: skip
    try:
        # Every output path is checked against the inputs before any audio is scored.
        check_min_confidence(args.min_confidence)
        if args.min_confidence is not None:
            check_min_confidence_applies(args.min_confidence, model_dir, _layout(model_dir))
        files, _ = find_audio_files(args.paths)
        check_outputs(outputs, files)
        pictures = {}
        if args.timeline_png:
            paths = check_png_folder(Path(args.timeline_png), files, {f.resolve() for f in files})
            pictures = dict(zip(files, paths, strict=True))
        results, failures = predict_files(
            args.model_dir,
            args.paths,
            batch_size=args.batch_size,
            window_seconds=args.window_seconds,
            hop_seconds=args.hop_seconds,
            device=args.device,
            dtype=args.dtype,
            vad=args.vad,
            smooth=args.smooth,
            backend=args.backend,
            onnx_file=args.onnx_file,
            timeline=bool(args.timeline or args.csv_timeline or args.timeline_png),
        )
        apply_min_confidence(results, args.min_confidence)
    except (ValueError, OSError) as error:
        if debug:
            logger.exception("traceback")
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    from training.inference.onnx_backend import onnx_path
    from training.inference.predict_outputs import (
        format_segments,
        format_table,
        write_csv,
        write_json,
        write_timeline_csv,
    )

    if args.json:
        onnx_file = None
        if args.backend == "onnxruntime":  # the file scored, as resolved (predict_files's)
            onnx_file = onnx_path(args.model_dir, args.onnx_file).absolute()
        write_json(args.json, args.model_dir, results, failures, timeline=args.timeline,
                   onnx_file=onnx_file)  # fmt: skip
    if args.csv:
        write_csv(args.csv, results)
    if args.csv_timeline:
        write_timeline_csv(args.csv_timeline, results)
    if pictures:
        from training.inference.timeline_plot import plot_timeline

        for result in results:
            plot_timeline(result, pictures[Path(result["file"])])
    if results:
        print(format_table(results))
        if args.timeline:
            print(format_segments(results))
    for path, reason in failures:
        print(f"FAILED {path}: {reason}", file=sys.stderr)
    print(f"{len(results)} classified, {len(failures)} failed", file=sys.stderr)
    return EXIT_SOME_FAILED if failures else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
