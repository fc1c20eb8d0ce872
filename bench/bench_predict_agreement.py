"""Does predict give a run's own test files the answers its test_predictions.csv holds?

    python bench/bench_predict_agreement.py RUN DATA_DIR [--checkout OTHER_CHECKOUT ...]

Runs `python -m training.inference.predict --json` on every file the run's table names (found
below DATA_DIR by name), from this checkout and from each --checkout (another version of the
project, e.g. a worktree of an older commit, run with its own .venv's python when it has one),
and counts per version: files whose probabilities differ from the table by more than 1e-6 (the
table prints 6 decimals), files with another label, files answered `no speech`.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TOLERANCE = 1e-6


def agreement(checkout: Path, run: Path, files: list[Path], rows: list[dict]) -> dict:
    python = checkout / ".venv" / "bin" / "python"
    python = python if python.is_file() else Path(sys.executable)
    labels = [key.removeprefix("prob_") for key in rows[0] if key.startswith("prob_")]
    with tempfile.TemporaryDirectory() as scratch:
        target = Path(scratch) / "predictions.json"
        subprocess.run(
            [str(python), "-m", "training.inference.predict", "--model_dir", str(run),
             "--device", "cpu", "--json", str(target), *map(str, files)],
            cwd=checkout, env=dict(os.environ, PYTHONPATH=str(checkout)), check=True,
            capture_output=True, text=True,
        )  # fmt: skip
        results = {Path(r["file"]).name: r for r in json.loads(target.read_text())["results"]}
    counts = {"files": len(rows), "differ": 0, "other_label": 0, "no_speech": 0, "largest": 0.0}
    for row in rows:
        got = results[row["file"]]
        if got["probabilities"] is None:
            counts["no_speech"] += 1
            counts["differ"] += 1
            counts["other_label"] += 1
            continue
        difference = max(abs(got["probabilities"][x] - float(row[f"prob_{x}"])) for x in labels)
        counts["largest"] = max(counts["largest"], difference)
        counts["differ"] += difference > TOLERANCE
        counts["other_label"] += got["emotion"] != row["predicted_emotion"]
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="a finished training run")
    parser.add_argument("data_dir", type=Path, help="where the run's test audio is")
    parser.add_argument("--checkout", type=Path, action="append", default=[],
                        help="another checkout of the project to compare")  # fmt: skip
    args = parser.parse_args(argv)
    with open(args.run / "test_predictions.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    found = {path.name: path for path in args.data_dir.rglob("*") if path.is_file()}
    files = [found[row["file"]] for row in rows]
    for checkout in [*args.checkout, REPO]:
        counts = agreement(checkout.resolve(), args.run.resolve(), files, rows)
        print(
            f"{checkout}: {counts['files']} test files, {counts['differ']} differ from "
            f"test_predictions.csv by more than {TOLERANCE:g} (largest {counts['largest']:.2e}), "
            f"{counts['other_label']} another label, {counts['no_speech']} `no speech`"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
