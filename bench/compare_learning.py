"""Two learning-benchmark results (e.g. an old commit and today's) compared over their seeds.

    python bench/compare_learning.py A.json B.json [--metric accuracy]

A and B are `learning_bench_*.json` files written by bench/bench_learning.py on the same corpus
and settings. Prints each seed's judged score and speaker-clustered interval side by side, the
two means ± std, B - A with its 95 % Welch interval over seeds and two-sided p-value, and the
smallest difference these seed counts detect (80 % power) at the two versions' pooled spread:
a difference inside the interval, or smaller than that, is not shown to be real.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from training.reports.seed_comparison import compare_seed_scores  # noqa: E402


def _cell(run: dict | None, metric: str) -> str:
    if run is None:
        return "-"
    interval = ""
    if metric == "accuracy" and "accuracy_low" in run:
        interval = f" [{run['accuracy_low']:.3f}, {run['accuracy_high']:.3f}]"
    return f"{run[metric]:.3f}{interval}"


def verdict(comparison: dict, name_a: str, name_b: str) -> str:
    low, high = comparison["low"], comparison["high"]
    if low > 0:
        return f"{name_b} scores higher than {name_a} (the interval excludes 0)"
    if high < 0:
        return f"{name_b} scores lower than {name_a} (the interval excludes 0)"
    return (
        f"no difference shown: the interval includes 0; differences smaller than "
        f"{comparison['detectable_difference']:.3f} are beyond these seeds"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("a", type=Path)
    parser.add_argument("b", type=Path)
    parser.add_argument("--metric", default="accuracy", choices=("accuracy", "uar", "macro_f1"))
    args = parser.parse_args(argv)
    for path in (args.a, args.b):
        if not path.is_file():
            parser.exit(2, f"error: {path}: no such file; give bench_learning.py's JSON\n")
    a, b = (json.loads(path.read_text()) for path in (args.a, args.b))
    if (a["epochs"], a["extra"], a.get("archive_dir")) != (
        b["epochs"],
        b["extra"],
        b.get("archive_dir"),
    ):
        parser.exit(
            2, "error: the two results were run with different settings; compare like with like\n"
        )
    runs_a = {run["seed"]: run for run in a["runs"]}
    runs_b = {run["seed"]: run for run in b["runs"]}
    name_a, name_b = a["commit"] or args.a.stem, b["commit"] or args.b.stem
    header = f"{args.metric} [95 % interval]"
    print(f"| seed | {name_a} {header} | {name_b} {header} |")
    print("|---:|---:|---:|")
    for seed in sorted(set(runs_a) | set(runs_b)):
        cells = (_cell(runs.get(seed), args.metric) for runs in (runs_a, runs_b))
        print(f"| {seed} | {' | '.join(cells)} |")
    try:
        comparison = compare_seed_scores(
            [run[args.metric] for run in a["runs"]], [run[args.metric] for run in b["runs"]]
        )
    except ValueError as error:
        parser.exit(2, f"error: {error}\n")
    summary_a, summary_b = a["summary"][args.metric], b["summary"][args.metric]
    print(
        f"| mean ± std | {summary_a['mean']:.3f} ± {summary_a['std']:.3f} "
        f"| {summary_b['mean']:.3f} ± {summary_b['std']:.3f} |"
    )
    print(
        f"\n{name_b} - {name_a}: {comparison['difference']:+.3f} "
        f"[{comparison['low']:+.3f}, {comparison['high']:+.3f}] (95 % Welch interval over seeds), "
        f"p = {comparison['p_value']:.3f}; {comparison['seeds_a']} and {comparison['seeds_b']} "
        f"seeds detect {comparison['detectable_difference']:.3f} (80 % power)"
    )
    print(verdict(comparison, name_a, name_b))
    return 0


if __name__ == "__main__":
    sys.exit(main())
