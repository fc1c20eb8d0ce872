"""Cross-corpus evaluation of a model with continuous targets (regression or multitask): scored
on another prepared corpus that carries the model's target columns (ser_targets in its config).

Per target: CCC, Pearson r and MAE in the model's units, each with its 95 % speaker-clustered
interval (training.reports.metrics.regression_metrics, as training scores its test split). A
multitask model's class head is scored too, on the corpus's labels matched by name, as
ser-evaluate scores a classifier (training.evaluation.cross_corpus.evaluate_probabilities), when
the corpus has labels that share a name with the model's classes. The per-file table holds
true_<target> and predicted_<target> for every scored clip (and, for the class head, the true
and predicted emotion and each class's probability); every number recomputes from it, and each
predicted value is what `pipeline(..., function_to_apply="none")` gives the clip.
"""

from __future__ import annotations

import numpy as np

from data_scripts.corpora.corpus_record import facts_of
from training.evaluation.run_evaluation import split_speakers
from training.model.task_outputs import OutputLayout
from training.reports.metrics.regression_metrics import regression_intervals, regression_metrics
from training.reports.target_report import target_rows_csv


def model_layout(model_dir) -> OutputLayout:
    """What the saved model's outputs are (classes, targets), from its config alone."""
    from transformers import AutoConfig

    return OutputLayout.from_config(AutoConfig.from_pretrained(model_dir))


def check_corpus_targets(layout: OutputLayout, dataset, record, dataset_dir) -> None:
    """Refuse, in one line and before anything is scored, a corpus without the model's targets:
    the numeric columns ser-prepare --target_columns checked and recorded (corpus.json's
    facts.targets), not any column of that name (a manifest's other columns are kept as text
    or numbers, unchecked)."""
    recorded = facts_of(record).get("targets") or {}
    missing = [
        name for name in layout.targets if name not in recorded or name not in dataset.column_names
    ]
    if missing:
        raise ValueError(
            f"--dataset_dir {dataset_dir}: no {', '.join(missing)} target column, and the model "
            f"answers {', '.join(layout.targets)}; prepare the corpus with ser-prepare "
            f"--target_columns {','.join(layout.targets)} (docs/dimensions.md)"
        )


def shared_class_names(layout: OutputLayout, dataset) -> list[str]:
    """The corpus's label names the model's class head knows (none for a regression model)."""
    names = dataset.features["label"].names if "label" in dataset.column_names else []
    return [name for name in layout.classes if name in names]


def score_targets(
    dataset, scores, short, layout: OutputLayout, resamples: int, seed: int, score_classes
):
    """(results, per-file table text) from every row's `scores` (EmotionClassifier.scores: class
    probabilities, then target values) and the rows too short to score. `score_classes`: how
    a classifier's probabilities are scored on this corpus's labels (cross_corpus's
    evaluate_probabilities, handed over by its caller), used for a multitask model's classes."""
    keep = [i for i in range(len(dataset)) if i not in set(short)]
    kept = dataset.select(keep)
    values = np.asarray(scores, np.float64)[keep][:, layout.target_slice]
    truth = np.stack([np.asarray(kept[name], np.float64) for name in layout.targets], axis=1)
    speakers = split_speakers(kept)
    results = {
        "files": len(dataset),
        "dropped_too_short": [dataset["file"][i] for i in short],
        "scored_files": len(keep),
        "targets": list(layout.targets),
        **regression_metrics(values, truth, layout.targets),
        "intervals": regression_intervals(values, truth, speakers, layout.targets, resamples, seed),
    }
    probabilities = None
    if shared_class_names(layout, dataset):
        probabilities = np.asarray(scores, np.float64)[keep][:, layout.class_slice]
        names = kept.features["label"].names
        true_names = [names[label] for label in kept["label"]]
        results["classes"] = score_classes(
            probabilities, true_names, list(layout.classes), speakers, resamples, seed
        )
    elif layout.has_classes:
        results["classes"] = None  # the corpus has no label the class head knows
    return results, target_rows_csv(kept, values, probabilities, layout)


def refuse_conditions(layout: OutputLayout, model_dir) -> None:
    """--conditions scores the class head under each corruption; a regression model has none."""
    if not layout.has_classes:
        raise ValueError(
            f"--conditions with --model_dir {model_dir}: a regression model (values of "
            f"{', '.join(layout.targets)}, no classes), and the robustness conditions score "
            "classes; leave --conditions out to score its values on the corpus"
        )


def result_line(result: dict) -> str:
    """ser-evaluate's printed line for one corpus: each target's CCC with its interval."""
    found = result["intervals"]["metrics"]
    scored = ", ".join(
        f"CCC {target} {result[f'ccc_{target}']:.3f} [{found[f'ccc_{target}']['low']:.3f}, "
        f"{found[f'ccc_{target}']['high']:.3f}]"
        for target in result["targets"]
    )
    facts = result["intervals"]
    who = f"{facts['speakers']} speakers, " if facts.get("speakers") else "no speakers: files, "
    classes = result.get("classes")
    if classes:
        scored += f", UAR {100 * classes['shared_classes']['uar']:.1f} % on the shared classes"
    return (
        f"{result['corpus']}: {scored} ({who}{result['scored_files']} files; 95 % intervals, "
        f"{facts['resamples']} resamples, seed {facts['seed']}; {result['folder']})"
    )
