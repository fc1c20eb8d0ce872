"""Score a regression model folder from outside, as a user of the saved model would.

    python bench/dimension_judge.py MODEL_DIR MANIFEST

`pipeline("audio-classification", function_to_apply="none")`, one clip at a time, on the run's
test files (test_predictions.csv), against the ratings in the manifest. Imports nothing of this
project; CCC, Pearson r and MAE are written out here. Prints one JSON line: per target
`ccc_<name>`, `pearson_<name>`, `mae_<name>`, and `ccc` (their mean CCC).
"""

from __future__ import annotations

import csv
import json
import os
import sys
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
from transformers import pipeline


def judge(model_dir: Path, manifest: Path) -> dict:
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    model = pipeline("audio-classification", model=str(model_dir), device="cpu")
    targets = json.loads((model_dir / "config.json").read_text())["ser_targets"]
    with open(manifest, newline="") as handle:
        ratings = {row["path"]: row for row in csv.DictReader(handle)}
    with open(model_dir / "test_predictions.csv", newline="") as handle:
        files = [row["file"] for row in csv.DictReader(handle)]
    truth, predicted = [], []
    for name in files:
        audio, rate = sf.read(manifest.parent / name, dtype="float32", always_2d=True)
        answer = model({"raw": audio.mean(axis=1), "sampling_rate": rate}, top_k=None,
                       function_to_apply="none")  # fmt: skip
        values = {entry["label"]: entry["score"] for entry in answer}
        predicted.append([values[t] for t in targets])
        truth.append([float(ratings[name][t]) for t in targets])
    truth, predicted = np.array(truth), np.array(predicted)
    result = {"files": len(files)}
    for index, target in enumerate(targets):
        p, t = predicted[:, index], truth[:, index]
        covariance = np.mean((p - p.mean()) * (t - t.mean()))
        result[f"ccc_{target}"] = float(
            2 * covariance / (p.var() + t.var() + (p.mean() - t.mean()) ** 2)
        )
        result[f"pearson_{target}"] = float(covariance / (p.std() * t.std()))
        result[f"mae_{target}"] = float(np.mean(np.abs(p - t)))
    result["ccc"] = float(np.mean([result[f"ccc_{t}"] for t in targets]))
    return result


if __name__ == "__main__":
    print(json.dumps(judge(Path(sys.argv[1]), Path(sys.argv[2]))))
