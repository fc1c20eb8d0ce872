"""The task flags of training (--task, --targets, --regression_loss, --loss_weights) checked
together, and the metric each task selects its best checkpoint by.

- classification: `uar` (the default metric_for_best_model);
- regression: `ccc`, the mean concordance correlation over the targets;
- multitask: `combined` = (w_classes x UAR + w_targets x mean CCC) / (w_classes + w_targets),
  the --loss_weights, so what is optimised and what is selected weigh the heads alike.
Early stopping (transformers' EarlyStoppingCallback) watches the same metric.
"""

from __future__ import annotations

# The metric each task selects the best checkpoint by, when metric_for_best_model is left at
# the classification default.
TASK_METRICS = {"classification": "uar", "regression": "ccc", "multitask": "combined"}


def parse_names(text: str | None) -> tuple[str, ...]:
    return tuple(name.strip() for name in (text or "").split(",") if name.strip())


def parse_loss_weights(text: str | None) -> tuple[float, float]:
    """(w_classes, w_targets) of --loss_weights (default 1,1); ValueError for a bad value."""
    if not text:
        return (1.0, 1.0)
    parts = [part.strip() for part in str(text).split(",")]
    try:
        weights = tuple(float(part) for part in parts)
    except ValueError:
        weights = ()
    if len(weights) != 2 or min(weights) < 0 or sum(weights) <= 0:
        raise ValueError(
            f"--loss_weights {text}: give two non-negative numbers W_CLASSES,W_TARGETS, not both 0"
        )
    return weights


def resolve_task(model_args, data_args, training_args) -> str | None:
    """The error message for flags that do not fit --task (None when they fit); sets the best
    checkpoint's metric of a regression or multitask run left at the default."""
    task = model_args.task
    names = parse_names(model_args.targets)
    if task == "classification":
        if names:
            return "--targets needs --task regression or --task multitask"
        if model_args.loss_weights:
            return "--loss_weights is for --task multitask"
        return None
    if not names:
        return f"--task {task} needs --targets (target columns, e.g. arousal,valence,dominance)"
    if len(set(names)) != len(names):
        return f"--targets {model_args.targets}: a target named twice"
    if task == "regression" and data_args.class_weighting != "none":
        return (
            f"--class_weighting {data_args.class_weighting} weighs classes and --task "
            "regression has none; leave it out"
        )
    if data_args.eval_dataset_dir:
        return (
            f"--eval_dataset_dir scores classes; --task {task} runs score their targets on their "
            "own test split only: leave it out"
        )
    if task == "regression" and model_args.loss_weights:
        return "--loss_weights is for --task multitask (regression has one loss)"
    try:
        parse_loss_weights(model_args.loss_weights)
    except ValueError as error:
        return str(error)
    if training_args.metric_for_best_model in (None, "uar", "eval_uar"):
        # The classification default (presets name it too): each task's own metric instead.
        training_args.metric_for_best_model = TASK_METRICS[task]
        training_args.greater_is_better = True
    if model_args.freeze_encoder and model_args.cache_frozen_features:
        return (
            f"--task {task} with --freeze_encoder: the cached linear probe trains classes only; "
            "add --cache_frozen_features false"
        )
    return None
