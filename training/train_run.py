"""One training run of `ser-train` (training.wav2vec2_classification): load and split the corpus,
build the model and Trainer, train, test, calibrate and report. The command module parses its
options first and imports this (torch's model code, datasets, the Trainer) only then, so --help
and a refused flag or file cost no more than the options need.
"""

from __future__ import annotations

import logging
import pickle
import sys
import time
from pathlib import Path

from transformers import TrainingArguments, set_seed

from data_scripts.common.arrow_cache import recorded_decode_settings
from data_scripts.common.cli_errors import USER_ERRORS, fail
from training.arguments import (
    DataArguments,
    ModelArguments,
)
from training.augment.augmenter import augment_summary, build_augmenter
from training.cross_validation import run_cross_validation
from training.data.batching import AudioClassificationCollator, model_view
from training.data.dataset_facts import corpus_card_facts, group_columns, label_names, metric_groups
from training.data.leakage import audit_split
from training.data.loading import describe_split, load_prepared_dataset, split_for_training
from training.evaluation.cross_corpus_scoring import check_eval_datasets, evaluate_corpora
from training.evaluation.run_evaluation import (
    bootstrap_settings,
    calibrate,
    calibration_report,
    evaluate_validation,
    split_extras,
)
from training.model.checkpoint_refusal import refusal_message
from training.model.decode_settings import record_decode_settings
from training.model.model_builder import (
    build_classifier,
    build_feature_extractor,
    feature_extractor_settings,
)
from training.model.short_clips import drop_too_short
from training.model.window_facts import record_window_facts
from training.probing.probe import build_probe_trainer
from training.reports.run_report import RunOutcome, write_run_report
from training.reports.scores import detailed_metrics, logits_of, make_compute_metrics
from training.run_folder.output_dir import (
    check_inputs,
    claim_output_dir,
    remove_if_empty,
    resume_target,
)
from training.run_folder.push_to_dir import check_push_target, push_to_dir
from training.run_folder.run_info import collect_run_info, describe_processes
from training.target_run import finish_target_run
from training.task_training import TargetTask, labels_for_task, record_layout, task_layout
from training.trainer.cached_cnn_training import use_cnn_feature_cache
from training.trainer.class_weights import class_weighting, loss_function
from training.trainer.divergence import StopWhenWeightsAreNotFinite
from training.trainer.early_stopping import add_early_stopping, early_stopping_record
from training.trainer.emotion_trainer import EmotionTrainer

# The command's logger; its main sets it to its own (named `__main__` when run as a script), so
# the run's log lines read as they did when this code was part of the command's module.
logger = logging.getLogger("training.wav2vec2_classification")


def _resume_checkpoint(training_args: TrainingArguments) -> str | None:
    """An explicit --resume_from_checkpoint, or `true` meaning the last one in output_dir."""
    resume = training_args.resume_from_checkpoint
    if resume in (None, "", "false", "False"):
        return None
    if resume in ("true", "True", True):
        # The newest complete one (announced when the output folder was claimed).
        last = resume_target(training_args, announce=False)
        if last is None:
            raise ValueError(
                "--resume_from_checkpoint true: no complete checkpoint in "
                f"{training_args.output_dir}"
            )
        return last
    return resume


def run_training(
    model_args: ModelArguments,
    data_args: DataArguments,
    training_args: TrainingArguments,
    argv: list[str] | None = None,
) -> dict:
    """One train/validate/test run; returns the test metrics. `argv`: the command's arguments,
    recorded in run_info.json."""
    test_metrics, _ = _train_and_test(model_args, data_args, training_args, argv)
    return test_metrics


def _train_and_test(
    model_args: ModelArguments,
    data_args: DataArguments,
    training_args: TrainingArguments,
    argv: list[str] | None = None,
) -> tuple[dict, dict]:
    """One train/validate/test run; returns the test metrics and the split (split.json)."""
    set_seed(training_args.seed)
    # The main process builds the Arrow cache; the others then find it and only read it.
    with training_args.main_process_first(desc="prepare the data"):
        dataset, record = load_prepared_dataset(data_args)
    source = data_args.dataset_dir or data_args.data_dir
    layout = task_layout(model_args.task, model_args.targets, dataset, source)
    splits, split_info = split_for_training(dataset, data_args, record)
    leakage = audit_split(splits, data_args.allow_duplicates)  # refused before any training
    check_eval_datasets(data_args.eval_dataset_dir, label_names(dataset))  # before training
    logger.info("split %s: %s", data_args.split, {k: len(v) for k, v in splits.items()})
    model, transfer, feature_extractor, extractor_source = _build_model(
        model_args, dataset, layout.classes + layout.targets
    )
    task = None
    if layout.has_targets:  # the head's outputs: classes (if any), then the targets
        task = TargetTask.of(layout, splits["train"], model_args.loss_weights)
        record_layout(model, task, record)
    # Clips the encoder turns into no frame are dropped by predict's rule, counted and named.
    splits, too_short = drop_too_short(splits, model)
    if too_short:  # the summary describes the rows actually used
        split_info = describe_split(splits, split_info, record)
    split_info["dropped_too_short"] = too_short
    split_info["leakage"] = leakage
    record_window_facts(feature_extractor, data_args.max_train_seconds, splits["train"]["length"])
    trainer, views = _build_trainer(
        model, feature_extractor, dataset, splits, model_args, data_args, training_args, task
    )
    trainer.add_callback(StopWhenWeightsAreNotFinite())  # a NaN run stops, named, not finished
    add_early_stopping(trainer, model_args)  # --early_stopping_patience, on the best's metric

    started = time.perf_counter()
    train_result = trainer.train(resume_from_checkpoint=_resume_checkpoint(training_args))
    trained = time.perf_counter()
    training_history = list(trainer.state.log_history)  # before the best model is re-evaluated
    if task is not None:  # regression or multitask: its own fold, scores and report
        card = _card_facts(model_args, data_args, training_args, dataset, splits["test"], record)
        extractor = feature_extractor_settings(feature_extractor, extractor_source)
        test_metrics = finish_target_run(
            trainer, views, splits, task, (model_args, data_args, training_args),
            {"train_result": train_result, "training_history": training_history,
             "split_info": split_info, "card_facts": card,
             "run_info": (transfer, sys.argv[1:] if argv is None else argv, extractor)},
        )  # fmt: skip
        return test_metrics, split_info
    # T goes into the weights before they are saved: every number below is the calibrated model's.
    validation = splits["validation"]
    calibration = calibrate(trainer, model, views["validation"], validation, model_args.calibration)
    trainer.save_model()  # with load_best_model_at_end this is the best checkpoint
    trainer.log_metrics("train", train_result.metrics)
    trainer.save_metrics("train", train_result.metrics)
    trainer.save_state()

    eval_metrics, validation_logits = evaluate_validation(trainer, views, validation, data_args)

    test = splits["test"]
    logits, details, test_metrics = _test(trainer, views["test"], test, record, data_args)

    processes = describe_processes(training_args)  # every rank takes part in the gather
    if trainer.is_world_process_zero():
        run_info = collect_run_info(
            training_args,
            transfer,
            sys.argv[1:] if argv is None else argv,
            processes=processes,
            feature_extractor=feature_extractor_settings(feature_extractor, extractor_source),
        )
        cache = getattr(trainer, "feature_cache", None)
        run_info["cnn_feature_cache"] = None if cache is None else cache.summary()
        bootstrap = bootstrap_settings(data_args)
        cross = evaluate_corpora(  # the run's own folder: a resumed run replaces its results
            training_args.output_dir, data_args.eval_dataset_dir, overwrite=True, **bootstrap
        )
        run_info["class_weighting"] = class_weighting(data_args.class_weighting, splits["train"])
        outcome = RunOutcome(
            test=test,
            label_names=label_names(test),
            logits=logits,
            details=details,
            test_metrics=test_metrics,
            eval_metrics=eval_metrics,
            split_info=split_info,
            run_info=run_info,
            training_history=training_history,
            validation=validation,
            validation_logits=validation_logits,
            calibration=calibration_report(
                calibration, validation_logits, validation, logits, test
            ),
        )
        write_run_report(
            Path(training_args.output_dir),
            outcome,
            {
                **_card_facts(model_args, data_args, training_args, dataset, test, record),
                "cross_corpus": cross,
            },
        )
    # What the run costs after training (final validation, test, reports), beside training.
    logger.info(
        "training %.1f s; after it (validation, test, reports) %.1f s",
        trained - started,
        time.perf_counter() - trained,
    )
    return test_metrics, split_info


def _build_model(model_args: ModelArguments, dataset, outputs: tuple[str, ...]):
    """The classifier on the checkpoint, its transfer report, and the feature extractor (which
    records how `dataset` was decoded, so predict decodes files the same way). `outputs`: the
    head's output names (classes, then continuous targets)."""
    model, transfer = build_classifier(
        model_args.model_path,
        model_args.config_path,
        labels=outputs,
        pooling=model_args.pooling,
        classifier_proj_size=model_args.classifier_proj_size,
        attn_implementation=model_args.attn_implementation,
    )
    feature_extractor, extractor_source = build_feature_extractor(
        model_args.model_path, model_args.config_path
    )
    record_decode_settings(feature_extractor, recorded_decode_settings(dataset))
    if model_args.freeze_feature_encoder or model_args.freeze_encoder:
        # freeze_base_model alone leaves the CNN asking for input gradients (a full backward).
        model.freeze_feature_encoder()
    if model_args.freeze_encoder:
        model.freeze_base_model()
    return model, transfer, feature_extractor, extractor_source


def _build_trainer(
    model, feature_extractor, dataset, splits, model_args, data_args, training_args, task=None
):
    """The Trainer and the splits as it reads them: the probe on cached frozen features, or the
    full model with random crops in training. `task`: a regression or multitask run's labels,
    loss and metrics (training.task_training)."""
    names = label_names(dataset)
    labels = labels_for_task(task)
    if task is None:
        compute_metrics = make_compute_metrics(names)
        loss = loss_function(data_args.class_weighting, splits["train"])
    else:
        compute_metrics = task.compute_metrics
        loss = task.loss(model_args.regression_loss, data_args.class_weighting, splits["train"])
    if model_args.freeze_encoder and model_args.cache_frozen_features:
        # The encoder never changes: compute it once per clip, train the head on cached means.
        return build_probe_trainer(
            model,
            feature_extractor,
            dataset,
            splits,
            training_args,
            data_args.cache_dir,
            make_compute_metrics(names),
            compute_loss_func=loss_function(data_args.class_weighting, splits["train"]),
        )
    views = {name: model_view(split, labels) for name, split in splits.items()}
    trainer = EmotionTrainer(
        model=model,
        args=training_args,
        data_collator=AudioClassificationCollator(
            feature_extractor,
            data_args.max_train_seconds,
            random_crop=True,
            labels=labels,
            augment=build_augmenter(data_args, feature_extractor.sampling_rate),
        ),
        eval_data_collator=AudioClassificationCollator(feature_extractor, labels=labels),
        train_dataset=views["train"],
        eval_dataset=views["validation"],
        processing_class=feature_extractor,
        compute_metrics=compute_metrics,
        compute_loss_func=loss,
        encoder_learning_rate=model_args.encoder_learning_rate,
    )
    frozen_cnn = model_args.freeze_feature_encoder or model_args.freeze_encoder
    if frozen_cnn and model_args.feature_cache_gb != 0:
        # The CNN never changes: its outputs once per clip, reused by every epoch and pass.
        cached_views = use_cnn_feature_cache(
            trainer,
            splits,
            feature_extractor,
            data_args.max_train_seconds,
            model_args.feature_cache_gb,
            data_args.cache_dir,
        )
        views = cached_views or views
    return trainer, views


def _test(trainer, test_view, test, record, data_args) -> tuple:
    """Logits, detailed metrics and the `test_*` metrics (saved) of the test split, in order,
    with their intervals and calibration numbers."""
    prediction = trainer.predict_in_order(test_view, test["label"])
    logits = logits_of(prediction.predictions)
    details = detailed_metrics(
        logits,
        prediction.label_ids,
        label_names(test),
        metric_groups(test, group_columns(test, record)),
    )
    test_metrics = {f"test_{k}": v for k, v in details.items()}
    test_metrics["test_loss"] = prediction.metrics.get("test_loss")
    test_metrics["test_samples"] = len(test)
    test_metrics.update(split_extras(logits, test, label_names(test), data_args, "test_"))
    test_metrics["early_stopping"] = early_stopping_record(trainer)
    trainer.save_metrics("test", test_metrics)
    return logits, details, test_metrics


def _card_facts(model_args, data_args, training_args, dataset, test, record) -> dict:
    """What the model card says about how the run was set up."""
    return {
        "base_model": model_args.model_path,
        "vocal_channel": data_args.vocal_channel,
        **corpus_card_facts(dataset, data_args.vocal_channel, test, record),
        "pooling": model_args.pooling,
        "split_protocol": data_args.split,
        "training": _training_summary(model_args, data_args, training_args),
    }


def _training_summary(
    model_args: ModelArguments, data_args: DataArguments, training_args: TrainingArguments
) -> dict:
    return {
        "learning_rate": training_args.learning_rate,
        "encoder_learning_rate": model_args.encoder_learning_rate,
        "num_train_epochs": training_args.num_train_epochs,
        "per_device_train_batch_size": training_args.per_device_train_batch_size,
        "gradient_accumulation_steps": training_args.gradient_accumulation_steps,
        "warmup_steps": training_args.warmup_steps,
        "seed": training_args.seed,
        "freeze_feature_encoder": model_args.freeze_feature_encoder,
        "freeze_encoder": model_args.freeze_encoder,
        "cache_frozen_features": model_args.freeze_encoder and model_args.cache_frozen_features,
        "max_train_seconds": data_args.max_train_seconds,
        "class_weighting": data_args.class_weighting,
        "augment": augment_summary(data_args),
        "metric_for_best_model": training_args.metric_for_best_model,
    }


def run_command(
    model_args: ModelArguments,
    data_args: DataArguments,
    training_args: TrainingArguments,
    argv: list[str] | None,
    debug: bool,
) -> int:
    """The command after its options are parsed: check the inputs, claim the output folder,
    train (one run or every fold), push; a user error stops it in one line (`fail`)."""
    created = not Path(training_args.output_dir).exists()
    try:
        # Inputs first, then the output folder (created, locked): nothing before the checks.
        check_inputs(model_args, data_args)
        check_push_target(model_args.push_to_dir, training_args.output_dir, data_args.cv_folds)
        lock = claim_output_dir(training_args, training_args.process_index == 0, data_args)
        try:
            if data_args.cv_folds:
                run_cross_validation(model_args, data_args, training_args, argv, _train_and_test)
                return 0
            run_training(model_args, data_args, training_args, argv)
        finally:
            if lock is not None:
                lock.release()
        if model_args.push_to_dir and training_args.process_index == 0:
            push_to_dir(training_args.output_dir, model_args.push_to_dir)
        return 0
    except USER_ERRORS as error:
        if isinstance(error, pickle.UnpicklingError):
            error = ValueError(refusal_message("a checkpoint file", error))
        if created:
            remove_if_empty(training_args.output_dir)  # a refused run leaves no empty folder
        fail(error, debug)
