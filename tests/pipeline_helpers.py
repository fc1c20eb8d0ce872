"""What plain `pipeline("audio-classification")` says, one clip at a time, in a process that
imports nothing of this project: the reference every reported number must equal."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

_SCRIPT = """
import json, sys
import numpy as np, soundfile
assert "training" not in sys.modules and "data_scripts" not in sys.modules
from transformers import pipeline
from transformers import AutoModelForAudioClassification
model_dir, files = sys.argv[1], json.loads(sys.stdin.read())
options = json.loads(sys.argv[2])
if options:  # as a user of a regression model loads it: problem_type says what it is
    config = AutoModelForAudioClassification.from_pretrained(model_dir).config
    assert config.problem_type == "regression", config.problem_type
classify = pipeline("audio-classification", model=model_dir, device="cpu", **options)
answers = {}
for path in files:
    samples, rate = soundfile.read(path, dtype="float32", always_2d=True)
    mono = samples.mean(axis=1, dtype=np.float32)
    scores = classify({"raw": mono, "sampling_rate": rate}, top_k=None)
    answers[path] = {s["label"]: s["score"] for s in scores}
assert "training" not in sys.modules and "data_scripts" not in sys.modules
print(json.dumps(answers))
"""


def pipeline_probabilities(
    model_dir: Path, files: list[Path], **options
) -> dict[str, dict[str, float]]:
    """{file path: {label: probability}} from `pipeline`, one clip per call, no PYTHONPATH.
    `options` go to each call, e.g. function_to_apply="none" (a regression model's values;
    the model is also loaded with AutoModelForAudioClassification, as users load it)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run(
        [sys.executable, "-c", _SCRIPT, str(model_dir), json.dumps(options)],
        input=json.dumps([str(f) for f in files]),
        cwd=Path(model_dir).parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    if result.returncode != 0:
        raise AssertionError(f"pipeline subprocess failed:\n{result.stderr[-4000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])
