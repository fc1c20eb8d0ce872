"""Model folders that are damaged or hostile, and export's DEST given as a link: one line naming
the file from every command that reads a model, and an export that lands where asked."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile
from model_helpers import (
    TORCH_ADVICE,
    one_clip_dataset,
    save_classifier_holding_code,
    save_tiny_classifier,
)
from training_helpers import TINY_CONFIG, TRAIN_CONFIG

from training.evaluation.cross_corpus import main as evaluate_main
from training.inference.export import main as export_main
from training.inference.predict import main as predict_main
from training.wav2vec2_classification import main as train_main


def _cut_in_half(path: Path) -> None:
    """What a copy or download that stopped midway leaves."""
    with open(path, "r+b") as handle:
        handle.truncate(path.stat().st_size // 2)


def _clip(folder: Path) -> Path:
    clip = folder / "clip.wav"
    tone = 0.3 * np.sin(2 * np.pi * 220 * np.arange(16_000) / 16_000).astype(np.float32)
    soundfile.write(clip, tone, 16_000)
    return clip


def _exits_with_one_line(command, arguments: list[str], capsys) -> str:
    """stderr of a command that must stop with exit status 1 and no traceback."""
    with pytest.raises(SystemExit) as exited:
        command(arguments)
    error = capsys.readouterr().err
    assert exited.value.code == 1, error
    assert "Traceback" not in error
    return error


def test_a_cut_weights_file_is_named_in_one_line_by_every_command(
    sample_data_dir, tmp_path, capsys
):
    """predict, export, evaluate and train each printed safetensors' traceback ("incomplete
    metadata, file not fully covered"), which names no file."""
    from training.demo.stand_in_checkpoint import write_ctc_checkpoint

    model = save_tiny_classifier(tmp_path / "model")
    _cut_in_half(model / "model.safetensors")
    weights = model / "model.safetensors"
    clip = _clip(tmp_path)
    result = tmp_path / "predictions.json"

    status = predict_main(["--model_dir", str(model), str(clip), "--json", str(result)])
    error = capsys.readouterr().err
    assert status == 2 and "Traceback" not in error, error
    assert f"error: {weights}: cannot be read (" in error and "cut short" in error
    assert not result.exists()

    exported = tmp_path / "exported"
    error = _exits_with_one_line(export_main, [str(model), str(exported)], capsys)
    assert f"error: {weights}: cannot be read (" in error and not exported.exists()
    assert not list(tmp_path.glob(".exported*")), "a staging folder was left behind"

    evaluated = tmp_path / "evaluated"
    arguments = ["--model_dir", str(model), "--output_dir", str(evaluated),
                 "--dataset_dir", str(one_clip_dataset(tmp_path / "data"))]  # fmt: skip
    error = _exits_with_one_line(evaluate_main, arguments, capsys)
    assert f"error: {weights}: cannot be read (" in error and not evaluated.exists()

    checkpoint = tmp_path / "ctc"
    write_ctc_checkpoint(TINY_CONFIG, checkpoint, "safetensors", seed=0)
    _cut_in_half(checkpoint / "model.safetensors")
    run = tmp_path / "run"
    arguments = ["--train_config", str(TRAIN_CONFIG),
                 "--model_path", str(checkpoint / "model.safetensors"),
                 "--config_path", str(checkpoint / "config.json"),
                 "--data_dir", str(sample_data_dir), "--output_dir", str(run)]  # fmt: skip
    error = _exits_with_one_line(train_main, arguments, capsys)
    assert f"error: {checkpoint / 'model.safetensors'}: cannot be read (" in error
    assert not run.exists()


def test_evaluate_refuses_a_pickle_naming_it_without_torchs_advice(tmp_path, capsys):
    """ser-evaluate printed torch's message: advice to set weights_only=False, and no file."""
    marker = tmp_path / "code_ran"
    model = save_classifier_holding_code(tmp_path / "model", marker)
    evaluated = tmp_path / "evaluated"
    arguments = ["--model_dir", str(model), "--output_dir", str(evaluated),
                 "--dataset_dir", str(one_clip_dataset(tmp_path / "data"))]  # fmt: skip
    error = _exits_with_one_line(evaluate_main, arguments, capsys)
    assert f"error: refused to load {model / 'pytorch_model.bin'}: not a plain-tensor" in error
    assert not any(advice in error for advice in TORCH_ADVICE), error
    assert not marker.exists() and not evaluated.exists()


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    return save_tiny_classifier(tmp_path_factory.mktemp("tiny") / "model")


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def test_export_into_a_linked_dest_lands_where_the_link_points(tiny_model, tmp_path, capsys):
    """DEST a link to a folder on another disk: export reported `Cannot call rmtree on a
    symbolic link` (exit 1) after the export had succeeded, and left the link renamed aside."""
    target = tmp_path / "disk" / "exports" / "emotion"
    target.mkdir(parents=True)
    link = tmp_path / "emotion"
    link.symlink_to(target, target_is_directory=True)

    assert export_main([str(tiny_model), str(link)]) == 0, capsys.readouterr().err
    assert "error" not in capsys.readouterr().err
    assert link.is_symlink() and link.resolve() == target.resolve()
    first = _files(target)
    assert "manifest.json" in first and "model.safetensors" in first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["disk", "emotion"]

    # A second export over the first, through the same link, with --overwrite.
    assert export_main([str(tiny_model), str(link), "--overwrite"]) == 0, capsys.readouterr().err
    assert link.is_symlink() and link.resolve() == target.resolve()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["disk", "emotion"]
    assert sorted(p.name for p in target.parent.iterdir()) == ["emotion"]
    assert _files(target)["model.safetensors"] == first["model.safetensors"]
    manifest = json.loads((target / "manifest.json").read_text())
    assert set(manifest["files"]) == set(first) - {"manifest.json"}
