"""Building a model export (training.inference.export says what it holds and how it is checked):
the source checked, the files copied, the ONNX forms made, `pipeline` run on the staging folder,
the card and manifest written, the folder swapped into place. The `ser-export` command parses
its options before it imports this (the classifier, torch).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from data_scripts.common.orphans import pid_alive
from data_scripts.common.writable import check_writable
from training.inference import onnx_export
from training.inference.audio_io import AUDIO_EXTENSIONS, load_audio
from training.inference.classifier import EmotionClassifier
from training.inference.export_card import CARD_NAME, write_export_card
from training.inference.export_check import compare, generated_clips, pipeline_answers
from training.inference.export_options import QUANTIZATIONS, ExportOptions
from training.inference.export_scores import (
    classes_checked,
    onnx_forms,
    pipeline_scores,
    score_names,
    table_references,
)
from training.inference.manifest import MANIFEST_NAME, read_manifest, write_manifest
from training.model.model_file import MODEL_WEIGHTS, sha256_of
from training.model.remote_code import refuse_remote_code

# The command's logger; its main sets it to its own (named `__main__` under `python -m`), so
# the log lines read as they did when this code was part of the command's module.
logger = logging.getLogger("training.inference.export")
# The ONNX forms and their checks live with the other layout-aware comparisons; this name is
# the one the export has always called (its tests call it too).
_onnx_forms = onnx_forms

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


def _test_clips(run: Path, layout, options: ExportOptions) -> tuple[list, dict]:
    """Clips ({"name", "path"}) of the run's test files still on disk, and their references;
    none when the run's table lacks a column the model's outputs need."""
    references = table_references(run / PREDICTIONS_FILE, layout)
    if references is None:
        logger.warning("%s lacks a column of the model's outputs", run / PREDICTIONS_FILE)
        return [], {}
    found: dict[str, Path] = {}
    for root in _audio_roots(run, options.audio_dir):
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
    rows = classifier.scores(arrays)
    return clips, onnx_export.as_answers(rows, names, score_names(classifier.layout)), arrays


def _copy_files(source: Path, staging: Path, is_run: bool) -> None:
    names = [*MODEL_FILES, CARD_NAME]
    if is_run:
        names += [*RUN_FILES, *sorted(p.name for p in source.glob("*.png"))]
    for name in names:
        if (source / name).is_file():
            shutil.copy2(source / name, staging / name)


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
    layout = classifier.layout
    clips, references = _test_clips(source, layout, options) if is_run else ([], {})
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
    answers = pipeline_scores(pipeline_answers(staging, clips), layout)
    checked = compare(answers, references, "pipeline on the export", classes_checked(layout))
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
