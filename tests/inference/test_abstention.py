"""`--min_confidence`: answers below the threshold are `uncertain`, the model's answer kept."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import soundfile
from model_helpers import save_tiny_classifier

from training.inference.abstention import UNCERTAIN, apply_min_confidence

BIN = Path(sys.executable).parent


def _answer(emotion: str | None, probability: float | None, windows=()) -> dict:
    return {
        "file": "a.wav",
        "emotion": emotion or "no speech",
        "probability": probability,
        "timeline": {
            "windows": [{"emotion": e, "probability": p} for e, p in windows],
        },
    }


def test_answers_below_the_threshold_become_uncertain_and_keep_the_models_answer():
    results = [
        _answer("sad", 0.4, windows=[("sad", 0.45), ("happy", 0.7)]),
        _answer("angry", 0.8),
        _answer(None, None),
    ]
    apply_min_confidence(results, 0.5)
    assert (results[0]["emotion"], results[0]["model_emotion"]) == (UNCERTAIN, "sad")
    windows = results[0]["timeline"]["windows"]
    assert [w["emotion"] for w in windows] == [UNCERTAIN, "happy"]
    assert results[1]["emotion"] == "angry" and "model_emotion" not in results[1]
    assert results[2]["emotion"] == "no speech"
    assert all(r["min_confidence"] == 0.5 for r in results)


def _predict(model: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}")
    return subprocess.run(
        ["ser-predict", "--model_dir", str(model), "--device", "cpu", "--vad", "none", *args],
        capture_output=True, text=True, env=env, timeout=180,
    )  # fmt: skip


def test_ser_predict_min_confidence_on_a_real_model(tmp_path):
    model = save_tiny_classifier(tmp_path / "model")  # random: about 1/8 per class
    rng = np.random.default_rng(0)
    for name in ("one.wav", "two.wav"):
        soundfile.write(tmp_path / name, rng.normal(0, 0.1, 16_000).astype(np.float32), 16_000)
    files = [str(tmp_path / "one.wav"), str(tmp_path / "two.wav")]
    sure = _predict(model, *files, "--min_confidence", "0.5", "--json", str(tmp_path / "a.json"))
    assert sure.returncode == 0, sure.stderr
    for result in json.loads((tmp_path / "a.json").read_text())["results"]:
        assert result["emotion"] == UNCERTAIN
        best = max(result["probabilities"], key=result["probabilities"].get)
        assert result["model_emotion"] == best and result["probability"] < 0.5
    plain = _predict(model, *files, "--min_confidence", "0", "--json", str(tmp_path / "b.json"))
    assert plain.returncode == 0, plain.stderr
    assert all(
        r["emotion"] != UNCERTAIN for r in json.loads((tmp_path / "b.json").read_text())["results"]
    )
    refused = _predict(model, *files, "--min_confidence", "1.5")
    assert refused.returncode == 2
    assert "error: --min_confidence 1.5: give a probability from 0 to 1" in refused.stderr
