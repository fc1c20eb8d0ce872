"""Score a trained model folder from outside, as a user of the saved model would.

    python bench/pipeline_judge.py MODEL_DIR DATA_DIR

`pipeline("audio-classification")`, one clip at a time, on the run's test files. Deliberately
imports nothing of this project (neither `training` nor `data_scripts`): the files are decoded
with soundfile, averaged to mono and resampled with `torchaudio.functional.resample`, and the
scores are computed here, so a bug in the project's decoder, collator or metric cannot hide
itself. The test files are those of test_predictions.csv, or, for runs of older code that did
not write it, the speech files of split.json's test actors. Prints one JSON line (the scores,
and each file's true and predicted emotion and actor under `answers`).
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
import torchaudio.functional as audio_functional
from transformers import pipeline

# RAVDESS file names: modality-channel-emotion-intensity-statement-repetition-actor.wav
EMOTION_CODES = {
    "01": "neutral",
    "02": "calm",
    "03": "happy",
    "04": "sad",
    "05": "angry",
    "06": "fearful",
    "07": "disgust",
    "08": "surprised",
}


def test_files(model_dir: Path, data_dir: Path) -> list[Path]:
    by_name = {path.name: path for path in data_dir.rglob("*.wav")}
    table = model_dir / "test_predictions.csv"
    if table.is_file():
        with open(table, newline="") as handle:
            return [by_name[Path(row["file"]).name] for row in csv.DictReader(handle)]
    split = json.loads((model_dir / "split.json").read_text())
    actors = set(split["splits"]["test"]["actors"])
    return sorted(
        path
        for name, path in by_name.items()
        if name.split("-")[1] == "01" and int(Path(name).stem.split("-")[6]) in actors
    )


def scores(truth: np.ndarray, predicted: np.ndarray) -> dict:
    """Accuracy, unweighted average recall and macro-F1 over the classes present in `truth`."""
    recalls, f1s = [], []
    for label in sorted(set(truth)):
        hits = np.sum((predicted == label) & (truth == label))
        recall = hits / np.sum(truth == label)
        precision = hits / max(np.sum(predicted == label), 1)
        recalls.append(recall)
        f1s.append(0.0 if hits == 0 else 2 * precision * recall / (precision + recall))
    return {
        "accuracy": float(np.mean(truth == predicted)),
        "uar": float(np.mean(recalls)),
        "macro_f1": float(np.mean(f1s)),
    }


def judge(model_dir: Path, data_dir: Path) -> dict:
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    classifier = pipeline("audio-classification", model=str(model_dir), device="cpu")
    rate = classifier.feature_extractor.sampling_rate
    truth, predicted, answers = [], [], {}
    for path in test_files(model_dir, data_dir):
        audio, source_rate = sf.read(path, dtype="float32", always_2d=True)
        mono = torch.from_numpy(audio.mean(axis=1))
        if source_rate != rate:
            mono = audio_functional.resample(mono, source_rate, rate)
        best = classifier({"raw": mono.numpy(), "sampling_rate": rate}, top_k=1)[0]
        truth.append(EMOTION_CODES[path.name.split("-")[2]])
        predicted.append(best["label"])
        # Per file, with its actor: the benchmark's speaker-clustered intervals need them.
        answers[path.name] = {
            "true": truth[-1],
            "predicted": predicted[-1],
            "actor": Path(path.name).stem.split("-")[6],
        }
    return {
        "files": len(truth),
        **scores(np.array(truth), np.array(predicted)),
        "answers": answers,
    }


if __name__ == "__main__":
    print(json.dumps(judge(Path(sys.argv[1]), Path(sys.argv[2]))))
