"""Two code versions' learning-benchmark results (e.g. an old commit and today's) compared.

    python bench/compare_learning.py --a OLD.json [OLD2.json ...] --b NEW.json [...]

Each side is one or more `learning_bench_*.json` files written by bench/bench_learning.py (seeds
run one invocation at a time are pooled; a seed may appear once per side), all on the same
corpus and settings. Prints each seed's judged accuracy with its speaker-clustered interval,
and, where both sides ran the seed, the paired per-file difference B - A with its 95 %
speaker-clustered bootstrap interval and McNemar's p (the same test files, so the speakers'
difficulty cancels; the seed's own training noise does not). Then the verdict over seeds: the
means ± std, B - A with its 95 % Welch interval and p-value, and the smallest difference these
seed counts detect (80 % power): a gap inside the interval, or below that size, is not shown.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from training.reports.paired_comparison import mcnemar_exact, paired_bootstrap  # noqa: E402
from training.reports.seed_comparison import compare_seed_scores  # noqa: E402

SETTINGS = ("epochs", "extra", "archive_dir", "voices", "seconds")


def merge_settings(settings: dict, result: dict, path: Path) -> None:
    """Adds `result`'s settings to `settings`, refusing one that differs (a setting an older
    version of the benchmark did not record matches any)."""
    for key in SETTINGS:
        value = json.dumps(result.get(key)) if key in result else None
        if value is None:
            continue
        if settings.setdefault(key, value) != value:
            raise ValueError(
                f"{path}: run with {key} {value}, other files with {settings[key]}; "
                "compare results of the same corpus and settings"
            )


def load_side(paths: list[Path], settings: dict) -> tuple[str, dict[int, dict]]:
    """The side's name (its commit) and runs by seed; its settings go into `settings`."""
    runs: dict[int, dict] = {}
    names = set()
    for path in paths:
        if not path.is_file():
            raise ValueError(f"{path}: no such file; give bench_learning.py's JSON")
        result = json.loads(path.read_text())
        names.add(result.get("commit") or path.stem)
        merge_settings(settings, result, path)
        for run in result["runs"]:
            if run["seed"] in runs:
                raise ValueError(f"{path}: seed {run['seed']} is already in another file")
            runs[run["seed"]] = run
    return "+".join(sorted(names)), runs


def paired_seed(run_a: dict, run_b: dict) -> dict | None:
    """B - A on one seed's test files, paired: accuracy's interval and McNemar's p."""
    answers_a, answers_b = run_a.get("answers"), run_b.get("answers")
    if not answers_a or not answers_b:
        return None
    if sorted(answers_a) != sorted(answers_b):
        first = sorted(set(answers_a) ^ set(answers_b))[0]
        raise ValueError(f"seed {run_a['seed']}: the two were tested on different files ({first})")
    files = sorted(answers_a)
    names = sorted({answers_a[f][key] for f in files for key in ("true", "predicted")})
    names = sorted(set(names) | {answers_b[f]["predicted"] for f in files})
    ids = {name: i for i, name in enumerate(names)}
    truth = [ids[answers_a[f]["true"]] for f in files]
    predicted_a = [ids[answers_a[f]["predicted"]] for f in files]
    predicted_b = [ids[answers_b[f]["predicted"]] for f in files]
    speakers = [answers_a[f]["actor"] for f in files]
    compared = paired_bootstrap(truth, predicted_a, predicted_b, speakers, names)
    accuracy = compared["metrics"]["accuracy"]
    correct_a = np.array(truth) == np.array(predicted_a)
    correct_b = np.array(truth) == np.array(predicted_b)
    return {**accuracy, "mcnemar_p": mcnemar_exact(correct_a, correct_b)["p_value"]}


def _cell(run: dict | None, metric: str) -> str:
    if run is None:
        return "-"
    interval = ""
    if metric == "accuracy" and "accuracy_low" in run:
        interval = f" [{run['accuracy_low']:.3f}, {run['accuracy_high']:.3f}]"
    return f"{run[metric]:.3f}{interval}"


def verdict(comparison: dict, name_a: str, name_b: str) -> str:
    if comparison["low"] > 0:
        return f"{name_b} scores higher than {name_a} (the interval excludes 0)"
    if comparison["high"] < 0:
        return f"{name_b} scores lower than {name_a} (the interval excludes 0)"
    return (
        "no difference shown: the interval includes 0; differences smaller than "
        f"{comparison['detectable_difference']:.3f} are beyond these seeds"
    )


def report(name_a: str, runs_a: dict, name_b: str, runs_b: dict, metric: str) -> list[str]:
    header = f"{metric} [95 % interval]"
    lines = [
        f"| seed | {name_a} {header} | {name_b} {header} | paired B - A [95 %] | McNemar p |",
        "|---:|---:|---:|---:|---:|",
    ]
    for seed in sorted(set(runs_a) | set(runs_b)):
        run_a, run_b = runs_a.get(seed), runs_b.get(seed)
        paired = paired_seed(run_a, run_b) if run_a and run_b else None
        pair = "-"
        if paired:
            pair = f"{paired['difference']:+.3f} [{paired['low']:+.3f}, {paired['high']:+.3f}]"
        p = f"{paired['mcnemar_p']:.3f}" if paired else "-"
        lines.append(f"| {seed} | {_cell(run_a, metric)} | {_cell(run_b, metric)} | {pair} | {p} |")
    scores_a = [run[metric] for _, run in sorted(runs_a.items())]
    scores_b = [run[metric] for _, run in sorted(runs_b.items())]
    if min(len(scores_a), len(scores_b)) < 2:  # the per-seed pairs above still stand
        return [*lines, "", "over seeds: no verdict below two seeds of each version"]
    comparison = compare_seed_scores(scores_a, scores_b)
    lines += [
        f"| mean ± std | {np.mean(scores_a):.3f} ± {np.std(scores_a, ddof=1):.3f} "
        f"| {np.mean(scores_b):.3f} ± {np.std(scores_b, ddof=1):.3f} | | |",
        "",
        f"{name_b} - {name_a}: {comparison['difference']:+.3f} "
        f"[{comparison['low']:+.3f}, {comparison['high']:+.3f}] (95 % Welch interval over seeds), "
        f"p = {comparison['p_value']:.3f}; {comparison['seeds_a']} and {comparison['seeds_b']} "
        f"seeds detect {comparison['detectable_difference']:.3f} (80 % power)",
        verdict(comparison, name_a, name_b),
    ]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--a", type=Path, nargs="+", required=True, help="version A's JSON(s)")
    parser.add_argument("--b", type=Path, nargs="+", required=True, help="version B's JSON(s)")
    parser.add_argument("--metric", default="accuracy", choices=("accuracy", "uar", "macro_f1"))
    args = parser.parse_args(argv)
    try:
        settings: dict = {}
        name_a, runs_a = load_side(args.a, settings)
        name_b, runs_b = load_side(args.b, settings)
        lines = report(name_a, runs_a, name_b, runs_b, args.metric)
    except ValueError as error:
        parser.exit(2, f"error: {error}\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
