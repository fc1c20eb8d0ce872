"""ser-evaluate refuses, in one line and before reading any dataset, what it cannot score."""

import subprocess
import sys
from pathlib import Path

from model_helpers import save_tiny_classifier

from training.model.task_outputs import OutputLayout


def test_a_regression_model_is_refused_in_one_line_naming_its_targets(tmp_path):
    model = save_tiny_classifier(
        tmp_path / "rated", layout=OutputLayout("regression", (), ("arousal", "valence"))
    )
    (tmp_path / "corpus").mkdir()  # empty: the refusal must come before any dataset is read
    script = Path(sys.executable).parent / "ser-evaluate"
    result = subprocess.run(
        [str(script), "--model_dir", str(model), "--dataset_dir", str(tmp_path / "corpus")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, result.stderr
    assert "regression model (values of arousal, valence, no classes)" in lines[0]
    assert "Traceback" not in result.stderr
    assert not (model / "cross_corpus").exists()
