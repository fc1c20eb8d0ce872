"""Classify audio files with any `AutoModelForAudioClassification` directory.

    python -m training.inference.predict --model_dir R clip.wav folder/ \
        [--json out.json] [--csv out.csv]

Files are decoded with soundfile (no FFmpeg), downmixed and resampled with the decode settings
saved with the model (the training data's), and scored in length-sorted batches. Clips longer
than the window are scored in overlapping windows whose class probabilities are averaged. A file
that cannot be decoded (undecodable, cut short, empty) or scored is reported by name and the rest
are still processed.
Exit code: 0 all files classified, 1 some failed, 2 usage error (no files, no model).
"""

from __future__ import annotations

import argparse
import inspect
import logging
import pickle
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile
import torch
from tqdm.auto import tqdm
from transformers import AutoFeatureExtractor, AutoModelForAudioClassification

from data_scripts.cli_errors import pop_debug_flag
from data_scripts.writable import check_writable
from training.inference.audio_io import AUDIO_EXTENSIONS, load_audio
from training.inference.onnx_backend import OnnxScorer
from training.inference.predict_outputs import TOP_K, format_table, write_csv, write_json
from training.model.checkpoint_refusal import refusal_message, weights_file
from training.model.decode_settings import model_decode_settings
from training.model.exact_forward import make_batch_independent
from training.model.short_clips import too_short

logger = logging.getLogger(__name__)

DEFAULT_WINDOW_SECONDS = 8.0
DEFAULT_HOP_SECONDS = 4.0
DEFAULT_BATCH_SIZE = 8
# Files decoded at once; bounds memory for large folders while keeping batches length-sorted.
FILES_PER_CHUNK = 256
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE = 0, 1, 2
BACKENDS = ("pytorch", "onnxruntime")
# Extensions searched in folders: the decoder's, plus MP3 where this libsndfile reads it.
FOLDER_EXTENSIONS = AUDIO_EXTENSIONS + ((".mp3",) if "MP3" in soundfile.available_formats() else ())
MAX_SKIPPED_LISTED = 5


@dataclass
class _Segment:
    """One model input: a whole clip or one window of a long clip."""

    file_index: int
    samples: np.ndarray


def find_audio_files(
    paths: list[str | Path], skipped: list[Path] | None = None
) -> tuple[list[Path], list[tuple[Path, str]]]:
    """Files named directly plus audio files (FOLDER_EXTENSIONS) found recursively in folders.

    Returns (files, missing) where missing lists paths that do not exist; the other files
    found in folders are appended to `skipped` when it is given.
    """
    files: list[Path] = []
    missing: list[tuple[Path, str]] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file())
            files.extend(p for p in found if p.suffix.lower() in FOLDER_EXTENSIONS)
            if skipped is not None:
                skipped.extend(p for p in found if p.suffix.lower() not in FOLDER_EXTENSIONS)
        elif path.is_file():
            files.append(path)
        else:
            missing.append((path, "no such file or folder"))
    return list(dict.fromkeys(files)), missing


def window_starts(num_samples: int, window: int, hop: int) -> list[int]:
    """Start offsets of full windows covering the clip; the last window ends at the clip's end."""
    if num_samples <= window:
        return [0]
    starts = list(range(0, num_samples - window + 1, hop))
    if starts[-1] + window < num_samples:
        starts.append(num_samples - window)
    return starts


def resolve_device(device: str) -> torch.device:
    """`auto` picks CUDA when it is available."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"--device {device}: CUDA is not available on this machine")
    return torch.device(device)


def _padding_argument(feature_extractor) -> dict:
    """Ask for padding to the longest clip unless the extractor pads in its own way, and for
    the attention mask wherever the extractor can give one.

    wav2vec2-style extractors default to no padding (a ragged batch fails), while e.g.
    Whisper's pads to a fixed length that its model requires: keep such defaults. The mask
    keeps per-utterance normalisation and pooling to real samples; wav2vec2-base checkpoints'
    extractors leave it out by default, and then padding changes every shorter clip.
    """
    parameters = inspect.signature(feature_extractor.__call__).parameters
    arguments = {}
    parameter = parameters.get("padding")
    if parameter is not None and parameter.default is False:
        arguments["padding"] = True
    if "return_attention_mask" in parameters:
        arguments["return_attention_mask"] = True
    return arguments


class _Scorer:
    """Model, feature extractor and device, loaded once; turns arrays into probabilities."""

    def __init__(self, model_dir: str | Path, device: str, dtype: str):
        if dtype not in DTYPES:
            raise ValueError(f"--dtype {dtype}: choose one of {', '.join(DTYPES)}")
        self.device = resolve_device(device)
        if self.device.type == "cpu" and dtype == "float16":
            raise ValueError("--dtype float16 needs a GPU; use float32 or bfloat16 on CPU")
        self.feature_extractor = AutoFeatureExtractor.from_pretrained(model_dir)
        try:
            self.model = AutoModelForAudioClassification.from_pretrained(
                model_dir, dtype=DTYPES[dtype]
            )
        except pickle.UnpicklingError as error:
            raise ValueError(refusal_message(weights_file(model_dir), error)) from error
        self.model.to(self.device).eval()
        # Each clip's CNN features come from the clip alone: batch mates change nothing.
        make_batch_independent(self.model)
        self.dtype = DTYPES[dtype]
        self.sampling_rate = self.feature_extractor.sampling_rate
        self.decode_settings = model_decode_settings(self.feature_extractor)
        id2label = self.model.config.id2label
        self.labels = [id2label[i] for i in range(self.model.config.num_labels)]
        self._padding = _padding_argument(self.feature_extractor)

    def too_short(self, num_samples: int) -> bool:
        """True when the model's feature encoder yields no frame for this many samples.

        Such a clip fails alone and gets a meaningless score when padded in a batch, so it is
        reported instead (training drops it by the same rule: training.model.short_clips); models
        without wav2vec2's length formula are not checked.
        """
        return too_short(self.model, num_samples)

    @torch.inference_mode()
    def probabilities(self, arrays: list[np.ndarray]) -> np.ndarray:
        """Class probabilities (float32, one row per array), padding with the extractor's mask."""
        inputs = self.feature_extractor(
            arrays, sampling_rate=self.sampling_rate, return_tensors="pt", **self._padding
        )
        inputs = {
            name: value.to(self.device, self.dtype)
            if value.is_floating_point()
            else value.to(self.device)
            for name, value in inputs.items()
        }
        logits = self.model(**inputs).logits
        return torch.softmax(logits.float(), dim=-1).cpu().numpy()


def _decode_segments(
    files: list[Path], indices: range, scorer: _Scorer, window: int, hop: int
) -> tuple[list[_Segment], dict[int, float], dict[int, str]]:
    """Decode files[indices] into model segments; (segments, durations, decode errors)."""
    sampling_rate = scorer.sampling_rate
    segments: list[_Segment] = []
    durations: dict[int, float] = {}
    errors: dict[int, str] = {}
    for index in indices:
        try:
            samples = load_audio(files[index], scorer.decode_settings)
        except ValueError as error:
            errors[index] = str(error).removeprefix(f"{files[index]}: ")
            continue
        if scorer.too_short(len(samples)):
            errors[index] = (
                f"too short for the model ({len(samples)} samples at {sampling_rate} Hz)"
            )
            continue
        durations[index] = len(samples) / sampling_rate
        for start in window_starts(len(samples), window, hop):
            segments.append(_Segment(index, samples[start : start + window]))
    return segments, durations, errors


def _score_segments(
    scorer: _Scorer, segments: list[_Segment], batch_size: int, progress: tqdm
) -> tuple[dict[int, list[np.ndarray]], dict[int, str]]:
    """Probabilities per file index; a batch that fails is retried one segment at a time."""
    scores: dict[int, list[np.ndarray]] = {}
    errors: dict[int, str] = {}
    ordered = sorted(segments, key=lambda s: len(s.samples), reverse=True)
    for start in range(0, len(ordered), batch_size):
        batch = ordered[start : start + batch_size]
        try:
            results = [(batch, scorer.probabilities([s.samples for s in batch]))]
        except RuntimeError:
            results = []
            for segment in batch:
                try:
                    results.append(([segment], scorer.probabilities([segment.samples])))
                except RuntimeError as error:
                    errors[segment.file_index] = f"the model cannot score it ({error})"
        for scored, probabilities in results:
            for segment, row in zip(scored, probabilities, strict=True):
                scores.setdefault(segment.file_index, []).append(row)
        progress.update(len(batch))
    return scores, errors


def _result(path: Path, probabilities: np.ndarray, labels: list[str], extra: dict) -> dict:
    order = np.argsort(-probabilities)
    return {
        "file": str(path),
        "emotion": labels[order[0]],
        "probability": float(probabilities[order[0]]),
        "top": [[labels[i], float(probabilities[i])] for i in order[:TOP_K]],
        "probabilities": {label: float(p) for label, p in zip(labels, probabilities, strict=True)},
        **extra,
    }


def predict_files(
    model_dir: str | Path,
    paths: list[str | Path],
    batch_size: int = DEFAULT_BATCH_SIZE,
    window_seconds: float = DEFAULT_WINDOW_SECONDS,
    hop_seconds: float = DEFAULT_HOP_SECONDS,
    device: str = "auto",
    dtype: str = "float32",
    backend: str = "pytorch",
    onnx_file: str | None = None,
) -> tuple[list[dict], list[tuple[Path, str]]]:
    """Classify every audio file in `paths` (files or folders) with the model in `model_dir`.

    Returns (results, failures). Each result: file, emotion, probability, top (TOP_K
    [label, probability] pairs), probabilities (every label), duration_seconds, windows.
    failures: (path, reason) for files that are missing, undecodable, empty or unscorable.
    Raises ValueError when no audio file is found or an argument is out of range.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    if not 0 < hop_seconds <= window_seconds:
        raise ValueError(
            f"need 0 < hop_seconds <= window_seconds, got hop {hop_seconds}, "
            f"window {window_seconds}"
        )
    skipped: list[Path] = []
    files, failures = find_audio_files(paths, skipped)
    if skipped:
        listed = ", ".join(str(p) for p in skipped[:MAX_SKIPPED_LISTED])
        more = (
            f" and {len(skipped) - MAX_SKIPPED_LISTED} more"
            if len(skipped) > MAX_SKIPPED_LISTED
            else ""
        )
        logger.warning(
            "skipped %d files that are not audio (%s): %s%s",
            len(skipped),
            "/".join(FOLDER_EXTENSIONS),
            listed,
            more,
        )
    if not files:
        raise ValueError(f"no audio files ({', '.join(FOLDER_EXTENSIONS)}) found in {paths}")
    if backend == "onnxruntime":  # the ONNX export (training.inference.onnx_backend)
        scorer = OnnxScorer(model_dir, onnx_file, device)
    else:
        scorer = _Scorer(model_dir, device, dtype)
    window = int(round(window_seconds * scorer.sampling_rate))
    hop = int(round(hop_seconds * scorer.sampling_rate))
    logger.info("classifying %d files on %s with %s", len(files), scorer.device, model_dir)

    by_index: dict[int, dict] = {}
    failed: dict[int, str] = {}
    with tqdm(desc="scoring", unit="segment") as progress:
        for chunk_start in range(0, len(files), FILES_PER_CHUNK):
            indices = range(chunk_start, min(chunk_start + FILES_PER_CHUNK, len(files)))
            segments, durations, decode_errors = _decode_segments(
                files, indices, scorer, window, hop
            )
            failed.update(decode_errors)
            progress.total = (progress.total or 0) + len(segments)
            scores, score_errors = _score_segments(scorer, segments, batch_size, progress)
            failed.update(score_errors)
            for index, rows in scores.items():
                if index in score_errors:
                    continue
                mean = np.mean(rows, axis=0)
                if not np.all(np.isfinite(mean)):
                    failed[index] = "the model gave non-finite scores (clip too short?)"
                    continue
                extra = {"duration_seconds": durations[index], "windows": len(rows)}
                by_index[index] = _result(files[index], mean, scorer.labels, extra)

    results = [by_index[i] for i in sorted(by_index)]
    failures.extend((files[i], failed[i]) for i in sorted(failed))
    return results, failures


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m training.inference.predict",
        description="Classify audio files (wav/flac/ogg/mp3) with an audio-classification model.",
    )
    parser.add_argument("paths", nargs="+", help="audio files or folders (searched recursively)")
    parser.add_argument(
        "--model_dir", required=True, help="model directory written by save_pretrained"
    )
    parser.add_argument("--batch_size", type=int, default=DEFAULT_BATCH_SIZE)
    parser.add_argument(
        "--window_seconds",
        type=float,
        default=DEFAULT_WINDOW_SECONDS,
        help="clips longer than this are scored in overlapping windows",
    )
    parser.add_argument(
        "--hop_seconds", type=float, default=DEFAULT_HOP_SECONDS, help="step between windows"
    )
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    parser.add_argument(
        "--dtype", default="float32", choices=list(DTYPES), help="model precision (half on GPU)"
    )
    parser.add_argument(
        "--backend", default="pytorch", choices=BACKENDS, help="onnxruntime: the ONNX export"
    )
    parser.add_argument(
        "--onnx_file", help="with --backend onnxruntime: e.g. model.int8.onnx (default model.onnx)"
    )
    parser.add_argument("--json", dest="json_path", help="write all results and failures here")
    parser.add_argument("--csv", dest="csv_path", help="write one row per file here")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    debug, argv = pop_debug_flag(argv)
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    model_dir = Path(args.model_dir)
    if not (model_dir / "config.json").is_file():
        print(
            f"error: --model_dir {model_dir} is not a model directory (no config.json)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    try:
        # The result files' folders are checked before any audio is scored.
        for flag, target in (("--json", args.json_path), ("--csv", args.csv_path)):
            if target:
                check_writable(Path(target).absolute().parent, flag)
        results, failures = predict_files(
            args.model_dir,
            args.paths,
            batch_size=args.batch_size,
            window_seconds=args.window_seconds,
            hop_seconds=args.hop_seconds,
            device=args.device,
            dtype=args.dtype,
            backend=args.backend,
            onnx_file=args.onnx_file,
        )
    except (ValueError, OSError) as error:
        if debug:
            logger.exception("traceback")
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    if args.json_path:
        write_json(args.json_path, args.model_dir, results, failures)
    if args.csv_path:
        write_csv(args.csv_path, results)
    if results:
        print(format_table(results))
    for path, reason in failures:
        print(f"FAILED {path}: {reason}", file=sys.stderr)
    print(f"{len(results)} classified, {len(failures)} failed", file=sys.stderr)
    return EXIT_SOME_FAILED if failures else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
