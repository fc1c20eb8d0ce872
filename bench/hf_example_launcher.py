"""Runs Hugging Face's `run_audio_classification.py` unchanged but for its metric, offline.

    python bench/hf_example_launcher.py SCRIPT [the example's flags ...]

The example calls `evaluate.load("accuracy")`, which downloads the metric's script from the
Hub; this machine has no Hub. This launcher replaces only `evaluate.load` with a local
accuracy (the same number: the share of predictions equal to the references) and then runs the
script as `__main__`, so every other line of it runs as published. It imports nothing from
this project, so the example's process pays no import the example itself would not.
"""

from __future__ import annotations

import runpy
import sys

import numpy as np


class OfflineAccuracy:
    """What `evaluate.load("accuracy").compute` returns, without the download."""

    def compute(self, predictions, references) -> dict:
        return {"accuracy": float(np.mean(np.asarray(predictions) == np.asarray(references)))}


def offline_load(name: str, *args, **kwargs) -> OfflineAccuracy:
    if name != "accuracy":
        raise ValueError(f"offline launcher: only the accuracy metric is available, not {name!r}")
    return OfflineAccuracy()


def main() -> int:
    if len(sys.argv) < 2:
        print("usage: hf_example_launcher.py SCRIPT [FLAGS ...]", file=sys.stderr)
        return 2
    import evaluate

    evaluate.load = offline_load
    script = sys.argv[1]
    sys.argv = [script, *sys.argv[2:]]
    runpy.run_path(script, run_name="__main__")
    return 0


if __name__ == "__main__":
    sys.exit(main())
