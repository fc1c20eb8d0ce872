"""Proof that an exported folder answers like the model that was evaluated.

A fresh Python process that imports nothing of this project (no PYTHONPATH, another working
directory, HF_HUB_OFFLINE=1) loads the folder with plain `pipeline("audio-classification")`,
decodes each audio file itself with soundfile and torchaudio as the folder's
preprocessor_config.json says, and scores one clip at a time. Its answers are compared here with
the reference: the run's test_predictions.csv, or the source model on generated clips.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

# Largest difference of a class probability the export may show against the reference.
TOLERANCE = 1e-4
CHILD_TIMEOUT_S = 1800

# Only numpy, soundfile, torch(audio) and transformers: what a user of the folder has.
_CHILD = r"""
import json, sys
import numpy as np, soundfile, torch, torchaudio
from transformers import pipeline
model_dir, clips = sys.argv[1], json.loads(sys.stdin.read())
with open(f"{model_dir}/preprocessor_config.json") as handle:
    preprocessor = json.load(handle)
rate = preprocessor["sampling_rate"]
decoding = preprocessor.get("audio_decoding") or {}
classify = pipeline("audio-classification", model=model_dir, device="cpu", trust_remote_code=False)
answers = {}
for clip in clips:
    if "npy" in clip:
        mono = np.load(clip["npy"])
    else:
        samples, source_rate = soundfile.read(clip["path"], dtype="float32", always_2d=True)
        mono = samples.mean(axis=1, dtype=np.float32)
        if source_rate != rate:
            mono = torchaudio.functional.resample(
                torch.from_numpy(mono), source_rate, rate,
                lowpass_filter_width=decoding.get("lowpass_filter_width", 6),
                rolloff=decoding.get("rolloff", 0.99),
                resampling_method=decoding.get("resampling_method", "sinc_interp_hann"),
            ).numpy()
    scores = classify({"raw": mono, "sampling_rate": rate}, top_k=None)
    answers[clip["name"]] = {s["label"]: s["score"] for s in scores}
leaked = sorted(m for m in ("training", "data_scripts") if m in sys.modules)
print(json.dumps({"answers": answers, "project_modules": leaked}))
"""


def pipeline_answers(model_dir: Path, clips: list[dict]) -> dict[str, dict[str, float]]:
    """{clip name: {label: probability}} from `pipeline` on `model_dir`, in a fresh process.

    `clips`: {"name", "path"} for an audio file or {"name", "npy"} for samples at the model's
    rate. ValueError when the process fails (its last lines in the message)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    with tempfile.TemporaryDirectory(prefix="ser-export-check-") as elsewhere:
        result = subprocess.run(
            [sys.executable, "-c", _CHILD, str(Path(model_dir).absolute())],
            input=json.dumps(clips), cwd=elsewhere, env=env,
            capture_output=True, text=True, timeout=CHILD_TIMEOUT_S,
        )  # fmt: skip
    if result.returncode != 0:
        tail = " | ".join(result.stderr.strip().splitlines()[-3:])
        raise ValueError(f"{model_dir}: pipeline could not load or score the export ({tail})")
    report = json.loads(result.stdout.strip().splitlines()[-1])
    if report["project_modules"]:
        raise ValueError(f"the check process imported {report['project_modules']}: not fresh")
    return report["answers"]


def compare(
    answers: dict[str, dict[str, float]], reference: dict[str, dict[str, float]], what: str
) -> dict:
    """Labels identical and probabilities within TOLERANCE, clip by clip; returns a summary.

    ValueError naming the first clip that differs, with the largest difference."""
    worst, worst_clip = 0.0, None
    for name, expected in reference.items():
        got = answers[name]
        if not np.all(np.isfinite(list(expected.values()))):
            raise ValueError(
                f"{what}: {name}: the reference probabilities are not finite (NaN): the run's "
                "own test evaluation failed, so there is nothing to ship; train again"
            )
        if max(got, key=got.get) != max(expected, key=expected.get):
            raise ValueError(
                f"{what}: {name}: label {max(got, key=got.get)!r}, the reference says "
                f"{max(expected, key=expected.get)!r}"
            )
        difference = max(abs(got[label] - p) for label, p in expected.items())
        if difference > worst:
            worst, worst_clip = difference, name
    if worst > TOLERANCE:
        raise ValueError(
            f"{what}: probabilities differ by up to {worst:.2e} (on {worst_clip}), more than "
            f"{TOLERANCE:g}"
        )
    return {
        "clips": len(reference),
        "labels_identical": True,
        "max_abs_difference": worst,
        "tolerance": TOLERANCE,
    }


def generated_clips(sampling_rate: int, seconds=(0.7, 1.6, 3.2), seed: int = 0) -> list:
    """A few seeded clips (tones in noise) at the model's rate, for folders without test files."""
    generator = np.random.default_rng(seed)
    clips = []
    for index, duration in enumerate(seconds):
        t = np.arange(int(duration * sampling_rate)) / sampling_rate
        tone = 0.3 * np.sin(2 * np.pi * (140 + 90 * index) * t * (1 + 0.2 * t))
        clips.append((tone + 0.05 * generator.standard_normal(t.shape)).astype(np.float32))
    return clips
