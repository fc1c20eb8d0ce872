"""The predict command's outputs: the printed table and segments, the JSON of results and
failures, the per-file CSV and the per-window timeline CSV."""

from __future__ import annotations

import csv
from pathlib import Path

from data_scripts.common.atomic_write import atomic_output, write_json_atomic
from training.inference.file_answer import TOP_K


def _number(value, digits: int = 3) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def format_table(results: list[dict]) -> str:
    """The printed summary: file, emotion, probability, top classes."""
    header = ("file", "emotion", "probability", f"top {TOP_K}")
    rows = [
        (
            r["file"],
            r["emotion"],
            _number(r["probability"]) or "-",
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


def format_segments(results: list[dict]) -> str:
    """Each file's segments, one line per segment: start-end emotion probability."""
    lines = []
    for r in results:
        lines.append(f"{r['file']}:")
        for s in r["timeline"]["segments"]:
            lines.append(f"  {s['start_s']:9.2f} - {s['end_s']:9.2f} s  {s['emotion']:<10} "
                         f"{_number(s['probability'])}".rstrip())  # fmt: skip
    return "\n".join(lines)


def write_json(
    path: str | Path, model_dir, results, failures, timeline: bool = False, onnx_file=None
) -> None:
    """Results and failures; each result's windows and segments only with `timeline`;
    `onnx_file`: the ONNX file scored (--backend onnxruntime)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    kept = results if timeline else [{k: v for k, v in r.items() if k != "timeline"}
                                     for r in results]  # fmt: skip
    payload = {
        "model_dir": str(model_dir),
        **({"onnx_file": str(onnx_file)} if onnx_file else {}),
        "results": kept,
        "failures": [{"file": str(p), "reason": reason} for p, reason in failures],
    }
    write_json_atomic(path, payload, sort_keys=False)


def _labels(results: list[dict]) -> list[str]:
    for r in results:
        if r["probabilities"]:
            return list(r["probabilities"])
        for row in r.get("timeline", {}).get("windows", []):
            if row["probabilities"]:
                return list(row["probabilities"])
    return []


def write_csv(path: str | Path, results: list[dict]) -> None:
    """One row per classified file: how it was scored, its speech share, and every class
    probability as a `prob_<label>` column (empty for a file with no speech)."""
    labels = _labels(results)
    with atomic_output(path) as temporary, open(temporary, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["file", "emotion", "probability", "duration_seconds", "windows", "silence_windows"]
            + ["scored", "speech_share"]
            + [f"prob_{label}" for label in labels]
        )
        for r in results:
            probabilities = r["probabilities"] or {}
            writer.writerow(
                [r["file"], r["emotion"], _number(r["probability"], 6)]
                + [f"{r['duration_seconds']:.3f}", r["windows"], r["silence_windows"]]
                + [r["scored"], _number(r["speech_share"], 4)]
                + [_number(probabilities.get(label), 6) for label in labels]
            )


def write_timeline_csv(path: str | Path, results: list[dict]) -> None:
    """One row per window of every file: file, start_s, end_s, emotion (`silence` for windows
    without speech), probability, prob_<label> (empty for silence)."""
    labels = _labels(results)
    with atomic_output(path) as temporary, open(temporary, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "start_s", "end_s", "emotion", "probability"]
                        + [f"prob_{label}" for label in labels])  # fmt: skip
        for r in results:
            for row in r["timeline"]["windows"]:
                probabilities = row["probabilities"] or {}
                writer.writerow(
                    [r["file"], f"{row['start_s']:.3f}", f"{row['end_s']:.3f}", row["emotion"]]
                    + [_number(row["probability"], 6)]
                    + [_number(probabilities.get(label), 6) for label in labels]
                )
