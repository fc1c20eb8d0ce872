"""The tables of bench_hf_example.py's recorded runs: per run, then ratios within each round.

Training throughput is the training clips over the Trainer's own training-loop seconds
(`train_runtime`) less the evaluation it ran inside the loop (ours validates each epoch; the
example, run train-only, does not). Ours is also given with the CNN cache's build added, since
the build replaces the CNN work of the steps: over one epoch that is the fair count, over many
epochs the build is paid once.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import numpy as np


def derived(run: dict, train_clips: int) -> dict:
    """Throughput and step time of one recorded run."""
    loop = run["train_runtime_s"] - run["in_training_eval_s"]
    with_build = loop + run.get("cache_build_s", 0.0)
    samples = train_clips * run.get("epochs", 1)  # runs recorded before --epochs ran one
    out = {
        "loop_s": loop,
        "samples_per_s": samples / loop,
        "samples_per_s_with_build": samples / with_build,
        "s_per_step": loop / run["steps"],
    }
    if "after_training_s" in run:
        out["after_share"] = run["after_training_s"] / run["wall_s"]
    return out


def _spread(values: list[float]) -> str:
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0]:.2f}x (1 round)"
    return f"{np.median(values):.2f}x ({min(values):.2f}-{max(values):.2f}, {len(values)} rounds)"


def _runs_table(runs: list[dict], train_clips: int) -> list[str]:
    lines = [
        "| round | variant | load | wall s | saved model s | train loop s | samples/s | "
        "incl. cache build | s/step | cache build s | after training s (share) |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for run in runs:
        d = derived(run, train_clips)
        after = (
            f"{run['after_training_s']:.1f} ({d['after_share']:.0%})"
            if "after_training_s" in run
            else "- (train only)"
        )
        lines.append(
            f"| {run['round']} | {run['variant']} | {run['load_before']:.1f} "
            f"| {run['wall_s']:.1f} | {run['saved_model_s']:.1f} | {d['loop_s']:.1f} "
            f"| {d['samples_per_s']:.2f} | {d['samples_per_s_with_build']:.2f} "
            f"| {d['s_per_step']:.2f} | {run.get('cache_build_s', 0.0):.1f} | {after} |"
        )
    return lines


def _ratios(runs: list[dict], train_clips: int) -> dict[str, list[float]]:
    """Ratios between variants of the same round (same minutes, same load)."""
    by_round: dict[int, dict[str, dict]] = defaultdict(dict)
    for run in runs:
        by_round[run["round"]][run["variant"]] = run
    ratios: dict[str, list[float]] = defaultdict(list)
    for variants in by_round.values():
        hf = variants.get("hf")
        for name in ("ours", "ours_nocache"):
            ours = variants.get(name)
            if ours is None or hf is None:
                continue
            o, h = derived(ours, train_clips), derived(hf, train_clips)
            ratios[f"{name}: training samples/s vs the example's"].append(
                o["samples_per_s"] / h["samples_per_s"]
            )
            ratios[f"{name}: same, cache build counted"].append(
                o["samples_per_s_with_build"] / h["samples_per_s"]
            )
            ratios[f"{name}: whole run wall vs the example's train-only wall"].append(
                ours["wall_s"] / hf["wall_s"]
            )
            ratios[f"{name}: wall to a saved model vs the example's"].append(
                ours["saved_model_s"] / hf["saved_model_s"]
            )
            ratios[f"{name}: CPU seconds, whole run vs the example's"].append(
                ours["cpu_s"] / hf["cpu_s"]
            )
    return ratios


def report(runs_file: Path, output_dir: Path) -> str:
    """Markdown tables per preset from the recorded runs and each preset's setup facts."""
    if not runs_file.is_file():
        return f"no runs recorded in {runs_file}"
    runs = [json.loads(line) for line in runs_file.read_text().splitlines() if line.strip()]
    lines = []
    for preset in sorted({run["preset"] for run in runs}):
        setup = json.loads((output_dir / f"setup_{preset}.json").read_text())
        train_clips = setup["sizes"]["train"]
        padded = setup["padded"]
        mine = [run for run in runs if run["preset"] == preset]
        lines += [
            f"\n### {preset} preset ({train_clips} training clips, {setup['sizes']}; "
            f"training audio {padded['real']:.0f} s, padded per epoch: example's random "
            f"batches {padded['random_batches']:.0f} s, ours length-grouped "
            f"{padded['length_grouped']:.0f} s)\n",
            *_runs_table(mine, train_clips),
            "",
            "| ratio (within a round) | median (range, rounds) |",
            "|---|---|",
        ]
        for name, values in _ratios(mine, train_clips).items():
            lines.append(f"| {name} | {_spread(values)} |")
    return "\n".join(lines)
