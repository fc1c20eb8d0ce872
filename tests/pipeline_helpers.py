"""What plain `pipeline("audio-classification")` says, one clip at a time, in a process that
imports nothing of this project: the reference every reported number must equal.

Starting that process costs seconds (torch and transformers load), so a test module asks it
once for everything its tests need (`pipeline_answers` with several requests, usually from a
module-scoped fixture) and each test compares its part."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

_SCRIPT = """
import json, sys
import numpy as np, soundfile
assert "training" not in sys.modules and "data_scripts" not in sys.modules
from transformers import pipeline
from transformers import AutoModelForAudioClassification
replies = []
for request in json.loads(sys.stdin.read()):
    model_dir, files, options = request["model_dir"], request["files"], request["options"]
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
    replies.append(answers)
assert "training" not in sys.modules and "data_scripts" not in sys.modules
print(json.dumps(replies))
"""

# `function_to_apply="none"`: a regression or multitask model's raw outputs (its targets in the
# ratings' units); the model is also loaded with AutoModelForAudioClassification, as users load it.
VALUES = {"function_to_apply": "none"}


class Request(NamedTuple):
    """One model folder, the files to classify with it, and the options of each call."""

    model_dir: Path
    files: list[Path]
    options: dict = {}


def pipeline_answers(requests: list[Request]) -> list[dict[str, dict[str, float]]]:
    """For each request, {file path: {label: score}} from `pipeline`, one clip per call, all
    from ONE fresh process run without PYTHONPATH in the first model's parent folder, so the
    project is not importable there (the script asserts it was not imported)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    asked = [
        {"model_dir": str(r.model_dir), "files": [str(f) for f in r.files], "options": r.options}
        for r in requests
    ]
    result = subprocess.run(
        [sys.executable, "-c", _SCRIPT],
        input=json.dumps(asked),
        cwd=Path(requests[0].model_dir).parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    if result.returncode != 0:
        raise AssertionError(f"pipeline subprocess failed:\n{result.stderr[-4000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def pipeline_probabilities(
    model_dir: Path, files: list[Path], **options
) -> dict[str, dict[str, float]]:
    """{file path: {label: probability}} from `pipeline`, one clip per call, no PYTHONPATH.
    `options` go to each call, e.g. function_to_apply="none" (see VALUES)."""
    return pipeline_answers([Request(model_dir, files, options)])[0]


def pipeline_values(model_dir: Path, files: list[Path]) -> dict[str, dict[str, float]]:
    """{file path: {output name: value}} from `pipeline(..., function_to_apply="none")`: the raw
    outputs of a regression or multitask model, one clip per call, in a process that imports
    nothing of this project."""
    return pipeline_probabilities(model_dir, files, **VALUES)
