"""Early stopping for every task: transformers' EarlyStoppingCallback watching the metric the best
checkpoint is chosen by (`uar`, `ccc` or `combined`: training.model.task_settings), and the
record of what it did, saved in test_results.json and shown on the card.

The callback compares each evaluation with the best one so far and stops the run after
`--early_stopping_patience` evaluations in a row without a gain of more than
`--early_stopping_threshold`; load_best_model_at_end then puts the best checkpoint back, so the
saved model is the best evaluated one, not the last.
"""

from __future__ import annotations

from transformers import EarlyStoppingCallback


def early_stopping_problem(model_args, training_args) -> str | None:
    """The one-line refusal of early-stopping flags the run's settings cannot honour (None when
    they fit, or when early stopping is off)."""
    patience = model_args.early_stopping_patience
    threshold = model_args.early_stopping_threshold
    if patience < 0:
        return f"--early_stopping_patience {patience}: give 0 (off) or a number of evaluations"
    if threshold < 0:
        return f"--early_stopping_threshold {threshold}: give 0 or a positive gain"
    if not patience:
        if threshold:
            return "--early_stopping_threshold needs --early_stopping_patience N (N evaluations)"
        return None
    flag = f"--early_stopping_patience {patience}"
    if str(training_args.eval_strategy) in ("no", "IntervalStrategy.NO"):
        return (
            f"{flag} watches the validation metric, and --eval_strategy is no: set "
            "--eval_strategy epoch (or steps, with --save_strategy the same), or leave it out"
        )
    if not training_args.load_best_model_at_end:
        return (
            f"{flag} keeps the best checkpoint, and --load_best_model_at_end is false (the last "
            "one would be saved): leave --load_best_model_at_end at true, or leave the flag out"
        )
    return None


def add_early_stopping(trainer, model_args) -> None:
    """Give `trainer` the callback when --early_stopping_patience is set."""
    if model_args.early_stopping_patience:
        trainer.add_callback(
            EarlyStoppingCallback(
                model_args.early_stopping_patience, model_args.early_stopping_threshold
            )
        )


def early_stopping_record(trainer) -> dict:
    """Whether the run stopped early (at which epoch of how many, after how many evaluations,
    patience, threshold, metric) or ran all its epochs; read from the trainer's state after
    training."""
    state, args = trainer.state, trainer.args
    callback = next(
        (c for c in trainer.callback_handler.callbacks if isinstance(c, EarlyStoppingCallback)),
        None,
    )
    metric = args.metric_for_best_model or ""
    key = metric if metric.startswith("eval_") else f"eval_{metric}"
    return {
        "patience": callback.early_stopping_patience if callback else 0,
        "threshold": callback.early_stopping_threshold if callback else None,
        "metric": key,
        "stopped_early": bool(callback and state.global_step < state.max_steps),
        "epochs_run": round(float(state.epoch or 0), 4),
        "epochs": float(args.num_train_epochs),
        # Distinct steps: the best model's own evaluation after training repeats the last one.
        "evaluations": len({entry.get("step") for entry in state.log_history if key in entry}),
        "best_metric": state.best_metric,
    }
