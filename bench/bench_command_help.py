"""How long each installed console script takes to print its --help, for two installs side by
side (e.g. main's venv and a branch's), each run in a fresh process.

    python bench/bench_command_help.py BIN_BEFORE BIN_AFTER [--repeats 3]

BIN_* are venv bin folders holding the ser-* scripts. Every repeat runs each command from both
installs one after the other, so load from other processes hits them alike; the table gives the
median wall and CPU seconds (user + system of the child) and the ratio of the medians.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import time

COMMANDS = (
    "download", "prepare", "sample-archives", "train", "evaluate", "predict", "export",
    "compare", "demo", "serve", "stream",
)  # fmt: skip


def timed_help(binary: str) -> tuple[float, float]:
    """(wall, CPU) seconds of one `binary --help`, run from / so no project folder is on path."""
    before, start = os.times(), time.perf_counter()
    result = subprocess.run([binary, "--help"], capture_output=True, cwd="/")
    wall, after = time.perf_counter() - start, os.times()
    if result.returncode != 0:
        raise SystemExit(f"{binary} --help exited {result.returncode}")
    cpu = (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )
    return wall, cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before")
    parser.add_argument("after")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    runs = {(c, side): [] for c in COMMANDS for side in ("before", "after")}
    for _ in range(args.repeats):
        for command in COMMANDS:
            for side in ("before", "after"):
                folder = getattr(args, side)
                runs[(command, side)].append(timed_help(f"{folder}/ser-{command}"))
    print("| command | before wall (s) | after wall (s) | ratio | before CPU (s) | after CPU (s) |")
    print("|---|---:|---:|---:|---:|---:|")
    totals = {"before": 0.0, "after": 0.0}
    for command in COMMANDS:
        wall = {s: statistics.median(w for w, _ in runs[(command, s)]) for s in totals}
        cpu = {s: statistics.median(c for _, c in runs[(command, s)]) for s in totals}
        for side in totals:
            totals[side] += wall[side]
        ratio = wall["before"] / wall["after"]
        print(f"| `ser-{command} --help` | {wall['before']:.2f} | {wall['after']:.2f} | "
              f"{ratio:.1f}x | {cpu['before']:.2f} | {cpu['after']:.2f} |")  # fmt: skip
    print(f"| all {len(COMMANDS)} | {totals['before']:.1f} | {totals['after']:.1f} | "
          f"{totals['before'] / totals['after']:.1f}x | | |")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
