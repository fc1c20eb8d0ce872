"""The predict command's outputs: the printed table and segments, the JSON of results and
failures, the per-file CSV and the per-window timeline CSV.

A model with continuous targets (training.inference.output_scores) adds its `values`: a column
per target in the table, `value_<target>` columns in the CSVs (and `smoothed_<target>` in the
timeline CSV with --smooth), `name=value` pairs in the printed segments. A classifier's outputs
are what they always were."""

from __future__ import annotations

import csv
from pathlib import Path

from data_scripts.common.atomic_write import atomic_output, write_json_atomic
from training.inference.file_answer import TOP_K
from training.inference.output_scores import VALUES
from training.inference.timeline import SMOOTHED_VALUES


def _number(value, digits: int = 3) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def format_table(results: list[dict]) -> str:
    """The printed summary: file, emotion, probability, each target's value (a model with
    targets), top classes; a regression model's table has no class columns and ends a file
    without speech with `no speech`."""
    targets = _targets(results)
    classes = any(r["probabilities"] for r in results) or not targets
    header = ("file", *(("emotion", "probability") if classes else ()), *targets,
              f"top {TOP_K}" if classes else "")  # fmt: skip
    rows = []
    for r in results:
        values = r.get(VALUES) or {}
        cells = [r["file"]]
        if classes:
            cells += [r["emotion"], _number(r["probability"]) or "-"]
        cells += [_number(values.get(t)) or "-" for t in targets]
        if classes:
            cells.append("  ".join(f"{label}:{p:.2f}" for label, p in r["top"]))
        else:
            cells.append(r["emotion"] or "")  # `no speech`, else nothing
        rows.append(tuple(cells))
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
            values = "  ".join(f"{t}={v:.3f}" for t, v in (s.get(VALUES) or {}).items())
            lines.append(f"  {s['start_s']:9.2f} - {s['end_s']:9.2f} s  "
                         f"{s['emotion'] or 'speech':<10} {_number(s['probability'])} "
                         f"{values}".rstrip())  # fmt: skip
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


def _targets(results: list[dict]) -> list[str]:
    """The target names of the results' values (none for a classifier's results)."""
    for r in results:
        if r.get(VALUES):
            return list(r[VALUES])
        for row in r.get("timeline", {}).get("windows", []):
            if row.get(VALUES):
                return list(row[VALUES])
    return []


def _values(row: dict, key: str, targets: list[str]) -> list[str]:
    values = row.get(key) or {}
    return [_number(values.get(t), 6) for t in targets]


def write_csv(path: str | Path, results: list[dict]) -> None:
    """One row per classified file: how it was scored, its speech share, every class
    probability as a `prob_<label>` column and every target value as a `value_<target>` column
    (empty for a file with no speech)."""
    labels, targets = _labels(results), _targets(results)
    with atomic_output(path) as temporary, open(temporary, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["file", "emotion", "probability", "duration_seconds", "windows", "silence_windows"]
            + ["scored", "speech_share"]
            + [f"prob_{label}" for label in labels]
            + [f"value_{target}" for target in targets]
        )
        for r in results:
            probabilities = r["probabilities"] or {}
            writer.writerow(
                [r["file"], r["emotion"], _number(r["probability"], 6)]
                + [f"{r['duration_seconds']:.3f}", r["windows"], r["silence_windows"]]
                + [r["scored"], _number(r["speech_share"], 4)]
                + [_number(probabilities.get(label), 6) for label in labels]
                + _values(r, VALUES, targets)
            )


def write_timeline_csv(path: str | Path, results: list[dict]) -> None:
    """One row per window of every file: file, start_s, end_s, emotion (`silence` for windows
    without speech), probability, prob_<label> (empty for silence), and for a model with
    targets value_<target> and, with --smooth, smoothed_<target> (the moving average)."""
    labels, targets = _labels(results), _targets(results)
    smoothed = targets if any(r["timeline"]["smooth"] > 1 for r in results) else []
    with atomic_output(path) as temporary, open(temporary, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "start_s", "end_s", "emotion", "probability"]
                        + [f"prob_{label}" for label in labels]
                        + [f"value_{target}" for target in targets]
                        + [f"smoothed_{target}" for target in smoothed])  # fmt: skip
        for r in results:
            for row in r["timeline"]["windows"]:
                probabilities = row["probabilities"] or {}
                writer.writerow(
                    [r["file"], f"{row['start_s']:.3f}", f"{row['end_s']:.3f}", row["emotion"]]
                    + [_number(row["probability"], 6)]
                    + [_number(probabilities.get(label), 6) for label in labels]
                    + _values(row, VALUES, targets)
                    + _values(row, SMOOTHED_VALUES, smoothed)
                )
