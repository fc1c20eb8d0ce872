"""The end of a regression or multitask run, after training: fold the calibration temperature
(class rows) and the target scaling into the head, save the model, score validation and test
with intervals, and write the report. Every number is the saved model's (scored after the fold).
"""

from __future__ import annotations

from pathlib import Path

from training.evaluation.run_evaluation import calibration_report
from training.reports.target_report import write_target_report
from training.run_folder.run_info import collect_run_info, describe_processes
from training.target_evaluation import score_split
from training.task_training import TargetTask, fold_before_saving
from training.trainer.class_weights import class_weighting


def finish_target_run(trainer, views, splits, task: TargetTask, arguments, run: dict) -> dict:
    """Returns the test metrics. `arguments`: (model, data, training) arguments; `run`:
    train_result, training_history, split_info, card_facts and run_info (the transfer report,
    the command's arguments and the feature extractor's settings)."""
    model_args, data_args, training_args = arguments
    validation = splits["validation"]
    calibration = fold_before_saving(
        trainer, trainer.model, task, views["validation"], validation, model_args.calibration
    )
    trainer.save_model()  # the best checkpoint, answering in the user's units
    trainer.log_metrics("train", run["train_result"].metrics)
    trainer.save_metrics("train", run["train_result"].metrics)
    trainer.save_state()
    validation_logits, eval_metrics = score_split(
        trainer, views["validation"], validation, task, data_args, "eval"
    )
    test_logits, test_metrics = score_split(
        trainer, views["test"], splits["test"], task, data_args, "test"
    )
    if task.layout.has_classes:  # ECE, Brier and log loss before and after T, as a classifier's
        rows = task.layout.class_slice
        calibration = calibration_report(calibration, validation_logits[:, rows], validation,
                                         test_logits[:, rows], splits["test"])  # fmt: skip
        calibration["folded_into"] = "the class rows of the last linear layer, not its target rows"
    transfer, argv, extractor = run["run_info"]
    processes = describe_processes(training_args)  # every rank takes part in the gather
    if trainer.is_world_process_zero():
        run_info = collect_run_info(
            training_args, transfer, argv, processes=processes, feature_extractor=extractor
        )
        cache = getattr(trainer, "feature_cache", None)
        run_info["cnn_feature_cache"] = None if cache is None else cache.summary()
        run_info["class_weighting"] = class_weighting(data_args.class_weighting, splits["train"])
        card_facts = dict(run["card_facts"])
        card_facts["training"] = {
            **card_facts.get("training", {}),
            "task": task.layout.task,
            "targets": ",".join(task.layout.targets),
            "regression_loss": model_args.regression_loss,
            "loss_weights": ",".join(f"{w:g}" for w in task.loss_weights)
            if task.layout.has_classes
            else None,
        }
        card_facts.pop("split_protocol", None)
        write_target_report(
            Path(training_args.output_dir),
            task,
            {
                "test": splits["test"],
                "test_logits": test_logits,
                "test_metrics": test_metrics,
                "validation": validation,
                "validation_logits": validation_logits,
                "eval_metrics": eval_metrics,
                "split_info": run["split_info"],
                "run_info": run_info,
                "calibration": calibration,
            },
            card_facts,
            run["training_history"],
        )
    return test_metrics
