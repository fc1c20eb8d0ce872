"""The predict command's outputs: the printed table, the JSON of results and failures, the CSV."""

from __future__ import annotations

import csv
from pathlib import Path

from data_scripts.atomic_write import atomic_output, write_json_atomic

# Classes shown per file in the printed table and the results' `top` lists.
TOP_K = 3


def format_table(results: list[dict]) -> str:
    """The printed summary: file, emotion, probability, top classes."""
    header = ("file", "emotion", "probability", f"top {TOP_K}")
    rows = [
        (
            r["file"],
            r["emotion"],
            f"{r['probability']:.3f}",
            "  ".join(f"{label}:{p:.2f}" for label, p in r["top"]),
        )
        for r in results
    ]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header) - 1)]
    lines = []
    for row in [header, *rows]:
        cells = [cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=True)]
        lines.append("  ".join([*cells, row[-1]]).rstrip())
    return "\n".join(lines)


def write_json(path: str | Path, model_dir: str | Path, results, failures) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "model_dir": str(model_dir),
        "results": results,
        "failures": [{"file": str(p), "reason": reason} for p, reason in failures],
    }
    write_json_atomic(path, payload, sort_keys=False)


def write_csv(path: str | Path, results: list[dict]) -> None:
    """One row per classified file with every class probability as a `prob_<label>` column."""
    labels = list(results[0]["probabilities"]) if results else []
    with atomic_output(path) as temporary, open(temporary, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["file", "emotion", "probability", "duration_seconds", "windows"]
            + [f"prob_{label}" for label in labels]
        )
        for r in results:
            writer.writerow(
                [r["file"], r["emotion"], f"{r['probability']:.6f}"]
                + [f"{r['duration_seconds']:.3f}", r["windows"]]
                + [f"{r['probabilities'][label]:.6f}" for label in labels]
            )
