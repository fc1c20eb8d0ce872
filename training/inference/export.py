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

import argparse
import csv
import json
import logging
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from data_scripts.common.cli_errors import USER_ERRORS, fail, pop_debug_flag
from data_scripts.common.orphans import pid_alive
from data_scripts.common.writable import check_writable
from training.inference import onnx_export
from training.inference.audio_io import AUDIO_EXTENSIONS, load_audio
from training.inference.classifier import EmotionClassifier
from training.inference.export_card import CARD_NAME, write_export_card
from training.inference.export_check import compare, generated_clips, pipeline_answers
from training.inference.manifest import MANIFEST_NAME, check_export, read_manifest, write_manifest
from training.model.model_file import MODEL_WEIGHTS, sha256_of
from training.model.remote_code import refuse_remote_code
from training.model.trained_classifier import load_trained_classifier

logger = logging.getLogger(__name__)

# training.reports.per_file_results writes it (that module loads `datasets`; inference does not).
PREDICTIONS_FILE = "test_predictions.csv"
MODEL_FILES = ("config.json", MODEL_WEIGHTS, "preprocessor_config.json")
# The validation table and calibration.json travel too: the card's calibration numbers and
# `ser-compare` recompute from what the export holds.
RUN_FILES = (
    "test_results.json",
    PREDICTIONS_FILE,
    "split.json",
    "run_info.json",
    "validation_predictions.csv",
    "calibration.json",
)
RUN_INFO = "run_info.json"
QUANTIZATIONS = ("int8",)


@dataclass
class ExportOptions:
    fold: int | None = None
    overwrite: bool = False
    verify_files: int | None = None  # None: every test file still on disk
    onnx: bool = False
    quantize: str | None = None
    audio_dirs: list[str] = field(default_factory=list)


def resolve_source(source: Path, fold: int | None) -> Path:
    """The model folder to export; ValueError for a cross-validation folder without --fold."""
    source = Path(source)
    if fold is not None:
        source = source / f"fold_{fold}"
        if not source.is_dir():
            raise ValueError(f"--fold {fold}: {source} does not exist")
        return source
    folds = sorted(p.name for p in source.glob("fold_*") if p.is_dir())
    if folds and not (source / "config.json").is_file():
        numbers = ", ".join(name.removeprefix("fold_") for name in folds)
        raise ValueError(
            f"{source}: a cross-validation folder holds one model per fold; export one with "
            f"--fold K (folds here: {numbers})"
        )
    return source


def check_source(source: Path) -> bool:
    """True for a finished training run, False for a plain model directory; ValueError for an
    unfinished run, a folder without a model, or a model changed after training."""
    if not source.is_dir():
        raise ValueError(f"SOURCE {source}: no such folder")
    _refuse_links(source)
    refuse_remote_code(source, "SOURCE")
    is_run = any((source / name).exists() for name in (*RUN_FILES, "trainer_state.json")) or any(
        source.glob("checkpoint-*")
    )
    missing = [name for name in MODEL_FILES if not (source / name).is_file()]
    if is_run and (missing or not (source / PREDICTIONS_FILE).is_file()):
        absent = ", ".join(missing or [PREDICTIONS_FILE])
        raise ValueError(
            f"SOURCE {source}: an unfinished training run (no {absent} yet): let it finish, or "
            "resume it with --resume_from_checkpoint true"
        )
    if missing:
        pickles = " (it holds pytorch_model.bin, a pickle: re-save with save_pretrained)"
        raise ValueError(
            f"SOURCE {source}: not a model directory, no {', '.join(missing)}"
            + (pickles if (source / "pytorch_model.bin").is_file() else "")
        )
    if is_run:
        _check_trained_weights(source)
    return is_run


def _refuse_links(source: Path) -> None:
    """ValueError naming every symbolic link among the files an export copies or reads: a
    README.md linked to a key file would put that file into the export's card and manifest."""
    names = [*MODEL_FILES, CARD_NAME, *RUN_FILES, *sorted(p.name for p in source.glob("*.png"))]
    links = [name for name in dict.fromkeys(names) if (source / name).is_symlink()]
    if links:
        raise ValueError(
            f"SOURCE {source}: {', '.join(links)} "
            + ("is a symbolic link" if len(links) == 1 else "are symbolic links")
            + "; an export copies only the folder's own files: put a copy of the file there "
            "instead of the link (or remove it)"
        )


def _check_trained_weights(run: Path) -> None:
    """The weights must be those training saved (their SHA-256 is in run_info.json)."""
    recorded = json.loads((run / RUN_INFO).read_text()).get("model_file", {})
    if "sha256" not in recorded:
        logger.warning(
            "%s was written before runs recorded their model's checksum: the export is checked "
            "against test_predictions.csv only",
            run / RUN_INFO,
        )
        return
    if sha256_of(run / MODEL_WEIGHTS) != recorded["sha256"]:
        raise ValueError(
            f"SOURCE {run}: {MODEL_WEIGHTS} was changed after training (its SHA-256 is not the "
            f"one {RUN_INFO} recorded), so the run's results do not describe it; export the run "
            "as training left it"
        )


def check_dest(source: Path, dest: Path, overwrite: bool) -> None:
    """ValueError unless DEST is new, empty, or an earlier export replaced with --overwrite."""
    source_path, dest_path = source.resolve(), dest.resolve()
    if dest_path == source_path or source_path in dest_path.parents:
        raise ValueError(f"DEST {dest}: is inside SOURCE {source}; choose a folder outside it")
    if dest_path in source_path.parents:
        raise ValueError(f"DEST {dest}: holds SOURCE {source}; choose another folder")
    if dest.exists() and not dest.is_dir():
        raise ValueError(f"DEST {dest}: is a file; choose a folder")
    if dest.is_dir() and any(dest.iterdir()):
        if read_manifest(dest) is None:
            raise ValueError(
                f"DEST {dest}: exists and is not an export (no {MANIFEST_NAME}); nothing was "
                "changed there: choose a new folder"
            )
        if not overwrite:
            raise ValueError(
                f"DEST {dest}: holds an earlier export; pass --overwrite to replace it"
            )
    check_writable(dest.absolute().parent, "DEST")


def _audio_roots(run: Path, audio_dirs: list[str]) -> list[Path]:
    """Where the test audio may be: --audio_dir folders, then the run's --data_dir."""
    roots = [Path(d) for d in audio_dirs]
    command = json.loads((run / RUN_INFO).read_text()).get("command") or []
    for index, word in enumerate(command):
        if word == "--data_dir" and index + 1 < len(command):
            roots.append(Path(command[index + 1]))
        elif word.startswith("--data_dir="):
            roots.append(Path(word.split("=", 1)[1]))
    return [root for root in roots if root.is_dir()]


def _table_references(run: Path, labels: list[str]) -> dict[str, dict[str, float]]:
    with open(run / PREDICTIONS_FILE, newline="") as handle:
        return {
            row["file"]: {label: float(row[f"prob_{label}"]) for label in labels}
            for row in csv.DictReader(handle)
        }


def _test_clips(run: Path, labels: list[str], options: ExportOptions) -> tuple[list, dict]:
    """Clips ({"name", "path"}) of the run's test files still on disk, and their references."""
    references = _table_references(run, labels)
    found: dict[str, Path] = {}
    for root in _audio_roots(run, options.audio_dirs):
        for path in root.rglob("*"):
            if path.suffix.lower() not in AUDIO_EXTENSIONS:
                continue
            # RAVDESS's table names files; other corpora's may give a path below their folder.
            for key in (path.name, path.relative_to(root).as_posix()):
                if key in references:
                    found.setdefault(key, path)
    names = [name for name in references if name in found][: options.verify_files]
    return [{"name": n, "path": str(found[n].absolute())} for n in names], {
        n: references[n] for n in names
    }


def _generated_references(classifier, scratch: Path) -> tuple[list, dict, list]:
    """Generated clips (saved as .npy for the check process) and the source model's answers."""
    arrays = generated_clips(classifier.sampling_rate)
    clips = []
    for index, array in enumerate(arrays):
        path = scratch / f"generated_{index}.npy"
        np.save(path, array)
        clips.append({"name": path.name, "npy": str(path)})
    names = [clip["name"] for clip in clips]
    rows = classifier.probabilities(arrays)
    return clips, onnx_export.as_answers(rows, names, classifier.labels), arrays


def _copy_files(source: Path, staging: Path, is_run: bool) -> None:
    names = [*MODEL_FILES, CARD_NAME]
    if is_run:
        names += [*RUN_FILES, *sorted(p.name for p in source.glob("*.png"))]
    for name in names:
        if (source / name).is_file():
            shutil.copy2(source / name, staging / name)


def _onnx_forms(staging: Path, clips_arrays: list, names: list, quantize: str | None) -> dict:
    """model.onnx (and model.int8.onnx), each checked against PyTorch on the verified clips,
    all three scored by EmotionClassifier one clip at a time (the ONNX file takes no mask)."""
    pytorch = EmotionClassifier.from_pretrained(staging, device="cpu", batch_size=1)
    labels = pytorch.labels
    model = load_trained_classifier(staging).eval()
    path = onnx_export.export_onnx(model, staging / onnx_export.ONNX_FILE, pytorch.sampling_rate)
    reference = onnx_export.as_answers(pytorch.probabilities(clips_arrays), names, labels)
    onnx = EmotionClassifier.from_pretrained(staging, backend="onnxruntime", batch_size=1)
    answers = onnx_export.as_answers(onnx.probabilities(clips_arrays), names, labels)
    try:
        result = {"onnx": compare(answers, reference, f"onnxruntime on {path.name}")}
    except ValueError as error:
        path.unlink()
        raise ValueError(f"{error}; no ONNX file written") from error
    if quantize == "int8":
        int8 = onnx_export.quantize_int8(path, staging / onnx_export.INT8_FILE)
        quantized_model = EmotionClassifier.from_pretrained(
            staging, backend="onnxruntime", onnx_file=onnx_export.INT8_FILE, batch_size=1
        )
        quantized = onnx_export.as_answers(quantized_model.probabilities(clips_arrays), names,
                                           labels)  # fmt: skip
        result["int8"] = {
            "clips": len(names),
            "label_agreement": onnx_export.label_agreement(quantized, answers),
            "max_abs_difference": max(
                abs(quantized[n][label] - answers[n][label]) for n in names for label in labels
            ),
            "size": int8.stat().st_size,
            "quantized_ops": list(onnx_export.INT8_OPS),
        }
    return result


def export_model(source: str | Path, dest: str | Path, options: ExportOptions) -> dict:
    """Export SOURCE to DEST as the module docstring says; returns the manifest."""
    source, dest = resolve_source(Path(source), options.fold), Path(dest)
    if dest.is_symlink():
        # The export goes where the link points, and the link stays: renaming the link aside
        # and the staging folder into its place would leave DEST a plain folder beside the
        # link's target, and the old link for rmtree, which refuses links.
        dest = dest.resolve()
    is_run = check_source(source)
    check_dest(source, dest, options.overwrite)
    if options.quantize is not None and options.quantize not in QUANTIZATIONS:
        raise ValueError(f"--quantize {options.quantize}: choose {', '.join(QUANTIZATIONS)}")
    if options.verify_files is not None and options.verify_files < 1:
        raise ValueError(f"--verify_files {options.verify_files}: verify at least 1 file")
    with_onnx = options.onnx or options.quantize is not None
    if with_onnx:
        onnx_export.require_onnx("--quantize int8" if options.quantize else "--onnx")
    _remove_stale_staging(dest)
    staging = dest.absolute().parent / f".{dest.name}.export-{os.getpid()}"
    staging.mkdir(parents=True)
    try:
        with tempfile.TemporaryDirectory(prefix="ser-export-") as scratch:
            manifest = _build(source, staging, Path(scratch), is_run, options, with_onnx)
        _swap_into_place(staging, dest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return manifest


def _build(source, staging, scratch, is_run, options, with_onnx) -> dict:
    _copy_files(source, staging, is_run)
    # Loading refuses, naming the user's folder, what is not a usable classifier.
    classifier = EmotionClassifier.from_pretrained(source, device="cpu", batch_size=1)
    clips, references = _test_clips(source, classifier.labels, options) if is_run else ([], {})
    if clips:
        reference_name, kind = PREDICTIONS_FILE, "test files of the run"
        arrays = [load_audio(clip["path"], classifier.decode_settings) for clip in clips]
    else:
        if is_run:
            logger.warning("no test audio of %s found (--audio_dir): using generated clips", source)
        reference_name, kind = "the source model", "generated clips"
        clips, references, arrays = _generated_references(classifier, scratch)
    names = [clip["name"] for clip in clips]
    verification = {}
    if with_onnx:
        logger.info("exporting ONNX and checking it on %d clips", len(clips))
        verification.update(_onnx_forms(staging, arrays, names, options.quantize))
    logger.info("checking %d clips with pipeline in a fresh process", len(clips))
    checked = compare(pipeline_answers(staging, clips), references, "pipeline on the export")
    verification["pipeline"] = {**checked, "reference": reference_name, "reference_clips": kind}
    write_export_card(staging, str(source), verification)
    source_info = {"path": str(source.absolute()), "kind": "training run" if is_run else "model"}
    return write_manifest(staging, source_info, verification, with_onnx)


def _remove_stale_staging(dest: Path) -> None:
    """Staging folders of exports to DEST whose process is gone (killed): never complete."""
    for folder in dest.absolute().parent.glob(f".{dest.name}.export-*"):
        pid = folder.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not pid_alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


def _swap_into_place(staging: Path, dest: Path) -> None:
    """Rename the checked folder to DEST; an earlier export is moved aside, then removed."""
    old = None
    if dest.exists():
        old = dest.absolute().parent / f".{dest.name}.replaced-{os.getpid()}"
        os.rename(dest, old)
    os.rename(staging, dest)
    if old is not None:
        shutil.rmtree(old)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m training.inference.export",
        description="Export a trained classifier into a clean, verified model folder.",
    )
    parser.add_argument("source", nargs="?", help="a finished run, a CV folder, a model folder")
    parser.add_argument("dest", nargs="?", help="the folder to create")
    parser.add_argument("--check", metavar="DEST", help="re-check an export's checksums")
    parser.add_argument("--fold", type=int, help="the fold of a cross-validation SOURCE")
    parser.add_argument("--overwrite", action="store_true", help="replace an earlier export")
    parser.add_argument(
        "--verify_files", type=int, help="test files to check with pipeline (default: all)"
    )
    parser.add_argument("--audio_dir", action="append", default=[], help="where the test audio is")
    parser.add_argument("--onnx", action="store_true", help="also write model.onnx")
    parser.add_argument(
        "--quantize", choices=QUANTIZATIONS, help="also write model.int8.onnx (implies --onnx)"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    debug, argv = pop_debug_flag(argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if args.check:
        if args.source:
            parser.error("--check takes one folder and no SOURCE")
        return _check(Path(args.check), debug)
    if not (args.source and args.dest):
        parser.error("give SOURCE and DEST (or --check DEST)")
    options = ExportOptions(
        fold=args.fold, overwrite=args.overwrite, verify_files=args.verify_files,
        onnx=args.onnx, quantize=args.quantize, audio_dirs=args.audio_dir,
    )  # fmt: skip
    try:
        manifest = export_model(args.source, args.dest, options)
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
