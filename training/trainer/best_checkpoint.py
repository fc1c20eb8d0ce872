"""Which checkpoint a run keeps: the best one by validation (our default) needs evaluations.

transformers refuses `load_best_model_at_end` without evaluations in a three-line error that
names neither flag's origin. Our default turns it on, so `--eval_strategy no` alone would
always hit that error: the default gives way to the user's `--eval_strategy no` (the run then
keeps its last weights), and only an explicit request for both is refused, in one line.
"""

from __future__ import annotations

import argparse

NO_EVALUATION = "no"


def _given(argv: list[str]) -> argparse.Namespace:
    """The two flags as given on the command line (None when absent)."""
    pre = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    pre.add_argument("--eval_strategy", default=None)
    pre.add_argument("--load_best_model_at_end", nargs="?", const="true", default=None)
    return pre.parse_known_args(argv)[0]


def _true(value) -> bool:
    return str(value).lower() in ("true", "1", "yes", "y")


def keep_last_without_evaluation(defaults: dict, from_file: dict, argv: list[str]) -> str | None:
    """Set `defaults["load_best_model_at_end"]` false when the run evaluates never and no file or
    flag asked for the best checkpoint; the one-line refusal when one did, else None."""
    given = _given(argv)
    strategy = given.eval_strategy or defaults.get("eval_strategy")
    if str(getattr(strategy, "value", strategy)).lower() != NO_EVALUATION:  # str or the enum
        return None
    asked = given.load_best_model_at_end
    if asked is None and "load_best_model_at_end" in from_file:
        asked = from_file["load_best_model_at_end"]
    if asked is not None and _true(asked):
        return (
            "--eval_strategy no leaves no evaluation to choose the best checkpoint by, and "
            "--load_best_model_at_end is true: set it false (the run keeps its last weights) "
            "or evaluate (--eval_strategy epoch)"
        )
    defaults["load_best_model_at_end"] = False
    return None
