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
    reply = {"answers": answers}
    if request["bare_tone"]:  # as users call it on a bare array: the model's own rate assumed
        reply["labels"] = AutoModelForAudioClassification.from_pretrained(model_dir).config.id2label
        t = np.arange(24000) / 16000
        reply["tone"] = classify((0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), top_k=None)
    replies.append(reply)
assert "training" not in sys.modules and "data_scripts" not in sys.modules
print(json.dumps(replies))
"""

# `function_to_apply="none"`: a regression or multitask model's raw outputs (its targets in the
# ratings' units); the model is also loaded with AutoModelForAudioClassification, as users load it.
VALUES = {"function_to_apply": "none"}


class Request(NamedTuple):
    """One model folder, the files to classify with it, and the options of each call.
    `bare_tone`: also the model's labels as AutoModelForAudioClassification loads them, and
    pipeline's scores (`tone`) for a bare array of a 1.5 s 220 Hz tone given without its rate."""

    model_dir: Path
    files: list[Path]
    options: dict = {}
    bare_tone: bool = False


def pipeline_replies(requests: list[Request]) -> list[dict]:
    """For each request, {"answers": {file path: {label: score}}} from `pipeline`, one clip per
    call (and "labels", "tone" where asked), all from ONE fresh process run without PYTHONPATH
    in the first model's parent folder, so the project is not importable there (the script
    asserts it was not imported)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    asked = [
        {"model_dir": str(r.model_dir), "files": [str(f) for f in r.files], "options": r.options,
         "bare_tone": r.bare_tone}
        for r in requests
    ]  # fmt: skip
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


def pipeline_answers(requests: list[Request]) -> list[dict[str, dict[str, float]]]:
    """For each request, {file path: {label: score}} (see pipeline_replies)."""
    return [reply["answers"] for reply in pipeline_replies(requests)]


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
