"""The model card's sections on how far its numbers and probabilities can be trusted: 95 %
speaker-clustered intervals, calibration before and after the temperature, the smallest
accuracy difference the test set can resolve, and the risk-coverage table (accuracy when only
the most confident files are kept).

Every value here recomputes from the run's per-file tables (test_predictions.csv,
validation_predictions.csv) and calibration.json."""

from __future__ import annotations

from pathlib import Path

from training.reports.card_text import HEADLINE_METRICS, table
from training.reports.intervals import speakers_of
from training.reports.paired_comparison import smallest_resolvable_difference
from training.reports.per_file_results import read_predictions_table
from training.reports.reliability_plot import RELIABILITY_PNG
from training.reports.risk_coverage import risk_coverage, table_confidence


def _interval_text(entry: dict | None) -> str:
    if not entry:
        return ""
    return f"{100 * entry['value']:.1f} [{100 * entry['low']:.1f}, {100 * entry['high']:.1f}]"


def resampling_line(intervals: dict, split: str) -> str:
    """Who was resampled and how often, and the warning that goes with few speakers."""
    if intervals.get("unit") == "speaker":
        speakers = intervals["speakers"]
        counted = f"{speakers} speaker{'s' if speakers != 1 else ''}, {intervals['files']} files"
    else:
        counted = f"{intervals['files']} files"
    line = (
        f"{split}: {counted}; {intervals['resamples']} bootstrap resamples of "
        f"{intervals['unit']}s, seed {intervals['seed']}."
    )
    if intervals.get("note"):
        line += f" Note: {intervals['note']}."
    return line


def intervals_section(test: dict, evaluation: dict) -> str:
    """Each headline metric and class recall with its 95 % interval, test and validation."""
    test_intervals = test.get("test_intervals") or {}
    eval_intervals = evaluation.get("eval_intervals") or {}
    if not test_intervals and not eval_intervals:
        return ""
    test_metrics = test_intervals.get("metrics", {})
    eval_metrics = eval_intervals.get("metrics", {})
    names = [n for n in HEADLINE_METRICS if n in test_metrics or n in eval_metrics]
    names += [n for n in test_metrics if n.startswith("recall_")]
    rows = [
        [
            HEADLINE_METRICS.get(name, "Recall: " + name.removeprefix("recall_")),
            _interval_text(test_metrics.get(name)),
            _interval_text(eval_metrics.get(name)),
        ]
        for name in names
    ]
    lines = [
        "## How sure these numbers are",
        "",
        "Values in percent with their 95 % interval [low, high] from a bootstrap that resamples "
        "speakers (all of a drawn speaker's files together), because most of the spread between "
        "two test sets comes from which speakers they hold.",
        "",
        table(["metric", "test (%) [95 % interval]", "validation (%) [95 % interval]"], rows),
        "",
    ]
    lines += [
        resampling_line(found, name)
        for name, found in (("Test", test_intervals), ("Validation", eval_intervals))
        if found
    ]
    return "\n".join(lines)


def _calibration_rows(report: dict) -> list[list[str]]:
    rows = []
    for split in ("validation", "test"):
        entry = report.get(split) or {}
        for state in ("before", "after", "uncalibrated"):
            if state in entry:
                values = entry[state]
                rows.append(
                    [
                        split,
                        state,
                        f"{100 * values['ece']:.1f}",
                        f"{values['brier']:.4f}",
                        f"{values['log_loss']:.4f}",
                    ]
                )
    return rows


def calibration_section(report: dict | None, output_dir: Path) -> str:
    """The temperature, ECE / Brier / log loss before and after, and the reliability diagram."""
    if not report:
        return ""
    lines = ["## Calibration", ""]
    if report.get("temperature") is not None:
        folded = report.get("folded_into", "the classifier's last linear layer")
        lines.append(
            f"Temperature T = {report['temperature']:.4f}, fitted on the "
            f"{report.get('validation_files', '')} validation files by log loss and folded into "
            f"{folded} (weights and bias divided by T): the saved "
            "model, `pipeline`, ONNX and int8 exports answer with the calibrated probabilities, "
            "and no label changes. Every result above is the calibrated model's. "
            '"before" is the model before the temperature (its logits x T).'
        )
    else:
        lines.append(
            "No temperature was fitted (`--calibration none`): the probabilities are the model's "
            "as trained."
        )
    lines += [
        "",
        "ECE: expected calibration error over 15 equal-width bins of the top probability "
        "(in %); Brier score and log loss per file, lower is better.",
        "",
        table(["split", "model", "ECE (%)", "Brier", "log loss"], _calibration_rows(report)),
    ]
    if (output_dir / RELIABILITY_PNG).is_file():
        lines += ["", f"![Reliability diagram]({RELIABILITY_PNG})"]
    return "\n".join(lines)


def resolution_line(columns: dict) -> str:
    """The smallest accuracy gain this test set resolves (80 % power, by simulation)."""
    _, correct = table_confidence(columns)
    speakers = speakers_of(columns)
    if speakers is not None and len(set(speakers)) < 2:
        return (
            "Resolution: one test speaker, so a speaker bootstrap cannot say which accuracy "
            "differences are real; compare models by cross-validation (`--cv_folds`)."
        )
    gain = smallest_resolvable_difference(correct, speakers)
    if gain is None:
        return (
            "Resolution: no accuracy gain within the headroom left is resolved with 80 % power "
            "on this test set; compare models by cross-validation (`--cv_folds`)."
        )
    return (
        f"Resolution: this test set resolves an accuracy difference of {100 * gain:.1f} points "
        "or more between two models (80 % power, paired speaker-clustered bootstrap at 95 %; "
        "simulated from this run's per-file table, the second model's errors independent of "
        "this one's). Smaller differences, in `ser-compare` or elsewhere, are not evidence."
    )


def risk_coverage_section(columns: dict) -> str:
    rows = [
        [
            f"{100 * row['target_coverage']:.0f}",
            f"{row['threshold']:.4f}",
            f"{row['files']} ({100 * row['coverage']:.1f} %)",
            f"{100 * row['accuracy']:.1f}",
        ]
        for row in risk_coverage(*table_confidence(columns))
    ]
    return "\n".join(
        [
            "## Abstention: accuracy against coverage",
            "",
            "Test accuracy when only the most confident files are answered "
            "(`ser-predict --min_confidence THRESHOLD` labels the others `uncertain`); files "
            "tied at the threshold are all kept.",
            "",
            table(["coverage asked (%)", "threshold", "files kept", "accuracy (%)"], rows),
        ]
    )


def uncertainty_sections(info: dict, output_dir: Path) -> str:
    """Every section of this module that the run's information supports, in reading order."""
    intervals = intervals_section(info.get("test_metrics") or {}, info.get("eval_metrics") or {})
    path = info.get("test_table")
    columns = read_predictions_table(path) if path and Path(path).is_file() else None
    if intervals and columns:
        intervals += "\n\n" + resolution_line(columns)
    parts = [
        intervals,
        calibration_section(info.get("calibration"), output_dir),
        risk_coverage_section(columns) if columns and columns["file"] else "",
    ]
    return "\n\n".join(part for part in parts if part)
