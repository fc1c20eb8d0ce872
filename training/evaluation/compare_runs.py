"""`ser-compare A B`: is B really better than A? Two runs, exports or cross-validation folders
compared on the per-file tables they saved (nothing is scored again).

    ser-compare runs/mean_pooling runs/weighted_layers
    ser-compare runs/cv_a runs/cv_b --json

Refused, in one line naming the first differing file, when the two were not tested on the same
files with the same true labels. For each metric: B - A, its 95 % paired speaker-clustered
bootstrap interval and two-sided p-value; for accuracy also McNemar's exact test; then a verdict.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from data_scripts.common.cli_errors import USER_ERRORS, fail, pop_debug_flag
from training.reports.intervals import DEFAULT_RESAMPLES, DEFAULT_SEED, speakers_of
from training.reports.paired_comparison import mcnemar_exact, paired_bootstrap
from training.reports.per_file_results import PREDICTIONS_FILE, read_predictions_table
from training.reports.table_intervals import class_ids, pooled_columns, table_label_names

HEADLINE = ("accuracy", "uar", "macro_f1")


def load_tables(folder: str | Path) -> dict[str, list[str]]:
    """The test table of a run or export, or every fold's of a cross-validation folder."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"{folder}: no such folder (give a run, an export or a CV folder)")
    if (folder / PREDICTIONS_FILE).is_file():
        return read_predictions_table(folder / PREDICTIONS_FILE)
    folds = sorted(folder.glob(f"fold_*/{PREDICTIONS_FILE}"))
    if folds:
        return pooled_columns([read_predictions_table(p) for p in folds], folds)
    raise ValueError(
        f"{folder}: no {PREDICTIONS_FILE} (nor fold_*/{PREDICTIONS_FILE}): not a finished run, "
        "export or cross-validation"
    )


def aligned(a: dict, b: dict, name_a: str, name_b: str) -> np.ndarray:
    """B's row for each of A's rows; ValueError naming the first file that differs."""
    for columns, name in ((a, name_a), (b, name_b)):
        if len(set(columns["file"])) != len(columns["file"]):
            seen, repeated = set(), None
            for file in columns["file"]:
                if file in seen:
                    repeated = file
                    break
                seen.add(file)
            raise ValueError(f"{name}: {repeated} appears twice in its per-file table")
    position = {file: row for row, file in enumerate(b["file"])}
    only_a = sorted(set(a["file"]) - set(position))
    only_b = sorted(set(position) - set(a["file"]))
    if only_a or only_b:
        file, side = min([(f, name_a) for f in only_a[:1]] + [(f, name_b) for f in only_b[:1]])
        raise ValueError(
            f"not tested on the same files: {file} is only in {side} "
            f"({len(only_a)} files only in {name_a}, {len(only_b)} only in {name_b})"
        )
    order = np.array([position[file] for file in a["file"]])
    for row, other in enumerate(order):
        if a["true_emotion"][row] != b["true_emotion"][other]:
            raise ValueError(
                f"{a['file'][row]}: true label {a['true_emotion'][row]} in {name_a} but "
                f"{b['true_emotion'][other]} in {name_b}"
            )
    if table_label_names(a) != table_label_names(b):
        raise ValueError(f"{name_a} and {name_b} have different classes; they cannot be compared")
    return order


def compare(folder_a, folder_b, resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED):
    """The comparison as a dict (what --json prints)."""
    a, b = load_tables(folder_a), load_tables(folder_b)
    order = aligned(a, b, str(folder_a), str(folder_b))
    names = table_label_names(a)
    truth = class_ids(a["true_emotion"], names, folder_a)
    predicted_a = class_ids(a["predicted_emotion"], names, folder_a)
    predicted_b = class_ids([b["predicted_emotion"][i] for i in order], names, folder_b)
    speakers = speakers_of(a)
    result = paired_bootstrap(truth, predicted_a, predicted_b, speakers, names, resamples, seed)
    result["mcnemar"] = mcnemar_exact(predicted_a == truth, predicted_b == truth)
    result.update(a=str(folder_a), b=str(folder_b), verdict=verdict(result))
    return result


def verdict(result: dict) -> str:
    accuracy = result["metrics"]["accuracy"]
    change = 100 * accuracy["difference"]
    interval = f"[{100 * accuracy['low']:+.1f}, {100 * accuracy['high']:+.1f}]"
    exact = result["mcnemar"]["p_value"]
    if accuracy["low"] > 0 or accuracy["high"] < 0:
        better = "B" if change > 0 else "A"
        return (
            f"{better} is more accurate: B - A = {change:+.1f} points {interval}, "
            f"p = {accuracy['p_value']:.3f} (speakers), McNemar p = {exact:.3f}."
        )
    return (
        f"No resolved difference: B - A = {change:+.1f} points {interval} includes 0 "
        f"(p = {accuracy['p_value']:.3f}, McNemar p = {exact:.3f}); this test set cannot tell "
        "the two apart."
    )


def report_text(result: dict) -> str:
    who = f"{result['speakers']} speakers" if result["unit"] == "speaker" else "files (no speakers)"
    lines = [
        f"A: {result['a']}",
        f"B: {result['b']}",
        f"{result['files']} shared test files; {result['resamples']} paired bootstrap "
        f"resamples of {who}, seed {result['seed']}.",
        "",
        f"{'metric':<22}{'A (%)':>8}{'B (%)':>8}{'B - A':>8}  {'95 % interval':<16}{'p':>7}",
    ]
    for name, entry in result["metrics"].items():
        interval = f"[{100 * entry['low']:+.1f}, {100 * entry['high']:+.1f}]"
        lines.append(
            f"{name:<22}{100 * entry['a']:>8.1f}{100 * entry['b']:>8.1f}"
            f"{100 * entry['difference']:>+8.1f}  {interval:<16}{entry['p_value']:>7.3f}"
        )
    mcnemar = result["mcnemar"]
    lines += [
        "",
        f"McNemar exact (accuracy): only A right on {mcnemar['only_a_right']} files, only B on "
        f"{mcnemar['only_b_right']}, p = {mcnemar['p_value']:.4f}.",
    ]
    if result.get("note"):
        lines.append(f"Note: {result['note']}.")
    lines.append(f"Verdict: {result['verdict']}")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Compare two runs, exports or cross-validation folders on their saved "
        "per-file test tables (paired, speaker-clustered)."
    )
    parser.add_argument("a", help="the first run / export / cross-validation folder (A)")
    parser.add_argument("b", help="the second one (B); differences are B - A")
    parser.add_argument("--resamples", type=int, default=DEFAULT_RESAMPLES)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--json", action="store_true", help="print the comparison as JSON")
    return parser


def main(argv: list[str] | None = None) -> int:
    debug, argv = pop_debug_flag(argv)
    args = build_parser().parse_args(argv)
    try:
        if args.resamples < 1:
            raise ValueError(f"--resamples {args.resamples}: must be 1 or more")
        result = compare(args.a, args.b, args.resamples, args.seed)
    except USER_ERRORS as error:
        fail(error, debug)
    print(json.dumps(result, indent=2) if args.json else report_text(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
