"""A model folder that asks transformers to run its own Python (`auto_map`) is refused in one
line by every command that loads a model; its code never runs, whatever is typed at a prompt."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from model_helpers import save_tiny_classifier
from training_helpers import REPO, run_env

from data_scripts.corpora.ravdess.sample_archives import write_voice_file
from training.evaluation.cross_corpus import main as evaluate_main
from training.inference.export import main as export_main
from training.wav2vec2_classification import main as train_main


def _folder_with_code(folder: Path, settings_file: str) -> tuple[Path, Path]:
    """A working classifier whose `settings_file` names a module of the folder that, imported,
    leaves a marker file."""
    save_tiny_classifier(folder)
    marker = folder.parent / f"{folder.name}-code-ran"
    (folder / "evil.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    settings = json.loads((folder / settings_file).read_text())
    key = "AutoConfig" if settings_file == "config.json" else "AutoFeatureExtractor"
    settings["auto_map"] = {key: "evil.Anything"}
    (folder / settings_file).write_text(json.dumps(settings))
    return folder, marker


@pytest.mark.parametrize("settings_file", ["config.json", "preprocessor_config.json"])
def test_predict_refuses_a_folder_with_code_even_when_told_yes(tmp_path, settings_file):
    """Before, transformers asked `[y/N]` and `echo y | ser-predict ...` ran evil.py."""
    model, marker = _folder_with_code(tmp_path / "model", settings_file)
    clip = write_voice_file(tmp_path / "clip.wav", "angry", True, 1, sampling_rate=16_000)
    result = subprocess.run(
        [sys.executable, "-m", "training.inference.predict", "--model_dir", str(model),
         "--vad", "none", str(clip)],
        cwd=REPO, env=run_env(), input="y\ny\ny\n", capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr[-2000:]
    assert (
        f"error: --model_dir {model}: {settings_file} asks to run Python code from the model "
        "folder (auto_map: evil); this project never runs a model's own code"
    ) in result.stderr
    assert "Traceback" not in result.stderr
    assert not marker.exists()


def test_evaluate_export_and_training_refuse_a_folder_with_code(tmp_path, capsys):
    model, marker = _folder_with_code(tmp_path / "model", "config.json")
    commands = {
        "--model_dir": lambda: evaluate_main(["--model_dir", str(model), "--dataset_dir",
                                              str(tmp_path)]),  # fmt: skip
        "SOURCE": lambda: export_main([str(model), str(tmp_path / "dest")]),
        "--model_path": lambda: train_main(["--model_path", str(model), "--data_dir",
                                            str(tmp_path), "--output_dir", str(tmp_path / "run")]),
    }  # fmt: skip
    for flag, command in commands.items():
        with pytest.raises(SystemExit) as exited:
            command()
        assert exited.value.code == 1
        error = capsys.readouterr().err
        assert f"error: {flag} {model}: config.json asks to run Python code" in error, error
    assert not marker.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]
