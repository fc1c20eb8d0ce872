"""Scoring for cross-corpus evaluation (training.evaluation.cross_corpus says what it measures):
each prepared corpus scored by the saved classifier, its table, results and card written. The
`ser-evaluate` command parses its options before it imports this (the classifier, datasets).
"""

from __future__ import annotations

import csv
import io
import json
import logging
from pathlib import Path

import numpy as np

from data_scripts.common.arrow_cache import recorded_decode_settings
from data_scripts.common.atomic_write import write_json_atomic, write_text_atomic
from data_scripts.corpora.corpus_record import corpus_name, load_saved_corpus
from training.evaluation.cross_corpus_targets import (
    check_corpus_targets,
    model_layout,
    score_targets,
)
from training.evaluation.run_evaluation import split_speakers
from training.inference.classifier import EmotionClassifier
from training.reports.corpus_card import cross_corpus_markdown
from training.reports.intervals import DEFAULT_RESAMPLES, DEFAULT_SEED, bootstrap_intervals
from training.reports.per_file_results import file_columns
from training.reports.scores import load_metric
from training.reports.target_card import target_cross_corpus_markdown

# The command's logger; its main sets it to its own (named `__main__` under `python -m`), so
# the log lines read as they did when this code was part of the command's module.
logger = logging.getLogger("training.evaluation.cross_corpus")

CROSS_CORPUS_DIR = "cross_corpus"
PREDICTIONS_FILE = "test_predictions.csv"
RESULTS_FILE = "results.json"
# Clips read from the dataset per call of the classifier: batches of one length order.
CHUNK_BATCHES = 32


def _same_path(a, b) -> bool:
    return Path(a).resolve() == Path(b).resolve()


def result_folder(
    output_dir,
    name: str,
    dataset_dir,
    model_dir,
    overwrite: bool,
    taken=(),
    kind: str = CROSS_CORPUS_DIR,
    results_file: str = RESULTS_FILE,
) -> Path:
    """Where one corpus's results go: `KIND/NAME` (cross_corpus or robustness), or `NAME-2`, ...
    when that folder holds something else (another dataset's or model's results, or files not
    ours) or is `taken` by this command. ValueError when it holds this very evaluation (its
    `results_file` names the same dataset and model) and not `overwrite`."""
    base = Path(output_dir) / kind
    for number in range(1, 10_000):
        folder = base / (name if number == 1 else f"{name}-{number}")
        if folder in taken:
            continue
        if not folder.exists():
            return folder
        try:
            earlier = json.loads((folder / results_file).read_text())
            same = _same_path(earlier["dataset_dir"], dataset_dir) and _same_path(
                earlier["model_dir"], model_dir
            )
        except (OSError, ValueError, KeyError, TypeError):
            same = False  # not a result of ours: never replaced
        if same and overwrite:
            return folder
        if same:
            raise ValueError(
                f"{folder}: holds an earlier evaluation of {dataset_dir} with this model; pass "
                "--overwrite to replace it (or --output_dir to write elsewhere)"
            )
    raise ValueError(f"{base}: no free folder name for {name}")


def score_dataset(
    model_dir, dataset, batch_size: int = 8, transform=None, classifier=None, part="probabilities"
) -> tuple[np.ndarray, list[str], list]:
    """(probabilities of the scored rows, the model's labels, the rows too short to score);
    `part="scores"`: every output (class probabilities, then target values) and their names.
    Every clip whole, through EmotionClassifier.probabilities (each clip's answer is its
    `pipeline` answer), read in length order a chunk at a time so memory stays bounded.
    `transform(audio, row)`: each clip corrupted first (the robustness conditions), scored by
    the same path; `classifier`: the model already loaded (else loaded from `model_dir`)."""
    if classifier is None:
        classifier = EmotionClassifier.from_pretrained(model_dir, batch_size=batch_size)
    recorded = recorded_decode_settings(dataset)
    if recorded is not None and recorded != classifier.decode_settings:
        logger.warning("the dataset was decoded with other settings than the model's training data")
    labels = classifier.labels + (classifier.targets if part == "scores" else [])
    lengths = np.asarray(dataset["length"])
    short = [i for i, n in enumerate(lengths) if classifier.too_short(int(n))]
    dropped = set(short)
    kept = np.array([i for i in np.argsort(lengths, kind="stable") if i not in dropped], dtype=int)
    probabilities = np.zeros((len(dataset), len(labels)), dtype=np.float32)
    view = dataset.with_format("numpy", columns=["audio"])
    chunk = batch_size * CHUNK_BATCHES
    for start in range(0, len(kept), chunk):
        rows = kept[start : start + chunk]
        arrays = [view[int(i)]["audio"]["array"] for i in rows]
        if transform is not None:
            arrays = [transform(array, int(i)) for array, i in zip(arrays, rows, strict=True)]
        probabilities[rows] = getattr(classifier, part)(arrays)
    return probabilities, labels, short


def evaluate_probabilities(
    probabilities,
    true_names,
    model_labels,
    speakers=None,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> dict:
    """Both numbers (see the module docstring) from per-clip probabilities and true names, each
    with its 95 % interval resampling `speakers` (each clip's; None: files)."""
    true_names = np.asarray(true_names)
    corpus_labels = sorted(set(true_names.tolist()))
    shared = [name for name in model_labels if name in corpus_labels]
    known = np.isin(true_names, shared)
    metric = load_metric()
    results = {
        "shared_labels": shared,
        "model_only_labels": [n for n in model_labels if n not in corpus_labels],
        "corpus_only_labels": [n for n in corpus_labels if n not in model_labels],
        "scored_files": int(known.sum()),
        "files_of_classes_the_model_lacks": int((~known).sum()),
    }
    if not shared:
        raise ValueError("the model and the corpus share no class name; nothing to score")
    index = {name: i for i, name in enumerate(model_labels)}
    shared_columns = [index[name] for name in shared]
    truth = np.array([index[name] for name in true_names[known]])
    unrestricted = probabilities[known].argmax(axis=-1)
    masked = probabilities[known][:, shared_columns].argmax(axis=-1)
    results["unrestricted"] = metric.compute(
        predictions=unrestricted, references=truth, label_names=model_labels
    )
    shared_truth = np.array([shared.index(name) for name in true_names[known]])
    results["shared_classes"] = metric.compute(
        predictions=masked, references=shared_truth, label_names=shared
    )
    results["shared_classes"]["references"] = shared_truth
    speakers = None if speakers is None else np.asarray(speakers)[known]
    for key, predicted, reference, names in (
        ("unrestricted", unrestricted, truth, model_labels),
        ("shared_classes", masked, results["shared_classes"]["references"], shared),
    ):
        results[key]["intervals"] = bootstrap_intervals(
            reference, predicted, speakers, names, resamples, seed
        )
    del results["shared_classes"]["references"]
    return results


def predictions_table(dataset, probabilities, model_labels, shared, short) -> str:
    """The per-file table: fields, true label, both predictions, each class's probability."""
    columns = file_columns(dataset)
    fields = dataset.select_columns([*columns, "label"]).to_dict()
    names = dataset.features["label"].names
    shared_columns = [model_labels.index(name) for name in shared]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(
        [*columns, "true_emotion", "predicted_emotion", "predicted_shared"]
        + [f"prob_{name}" for name in model_labels]
    )
    for row in range(len(dataset)):
        if row in short:
            continue
        p = probabilities[row]
        writer.writerow(
            [fields[column][row] for column in columns]
            + [
                names[fields["label"][row]],
                model_labels[int(p.argmax())],
                shared[int(p[shared_columns].argmax())],
            ]
            + [f"{value:.6f}" for value in p]
        )
    return buffer.getvalue()


def score_and_tabulate(
    model_dir,
    dataset,
    batch_size: int = 8,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    transform=None,
    classifier=None,
) -> tuple[dict, str]:
    """(results, per-file table text) of the saved model on `dataset`, with speaker-clustered
    intervals; each clip first passed through `transform(audio, row)` when given."""
    probabilities, model_labels, short = score_dataset(
        model_dir, dataset, batch_size, transform, classifier
    )
    names = dataset.features["label"].names
    keep = [i for i in range(len(dataset)) if i not in set(short)]
    true_names = [names[label] for label in np.asarray(dataset["label"])[keep]]
    results = {
        "files": len(dataset),
        "dropped_too_short": [dataset["file"][i] for i in short],
        **evaluate_probabilities(
            probabilities[keep],
            true_names,
            model_labels,
            split_speakers(dataset.select(keep)),
            resamples,
            seed,
        ),
    }
    table = predictions_table(
        dataset, probabilities, model_labels, results["shared_labels"], set(short)
    )
    return results, table


def evaluate_corpus(
    model_dir,
    dataset_dir,
    folder: Path,
    batch_size: int = 8,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> dict:
    """Score the saved model on one prepared corpus and write its three files into `folder`
    (chosen by `result_folder`); the results."""
    dataset, record = load_saved_corpus(dataset_dir)
    layout = model_layout(model_dir)
    if layout.has_targets:  # per target CCC, Pearson r, MAE (and a multitask model's classes)
        scores, _, short = score_dataset(model_dir, dataset, batch_size, part="scores")
        scored, table = score_targets(
            dataset, scores, short, layout, resamples, seed, evaluate_probabilities
        )
    else:
        scored, table = score_and_tabulate(model_dir, dataset, batch_size, resamples, seed)
    results = {
        "corpus": corpus_name(record, dataset_dir),
        "folder": f"{CROSS_CORPUS_DIR}/{folder.name}",
        "dataset_dir": str(dataset_dir),
        "model_dir": str(model_dir),
        **scored,
    }
    write_text_atomic(folder / PREDICTIONS_FILE, table)
    write_json_atomic(folder / RESULTS_FILE, results)
    markdown = target_cross_corpus_markdown if layout.has_targets else cross_corpus_markdown
    write_text_atomic(folder / "README.md", markdown([results]) + "\n")
    return results


def check_eval_datasets(dataset_dirs, model_labels) -> None:
    """Before any training: every --eval_dataset_dir is a saved dataset sharing a class name."""
    for dataset_dir in dataset_dirs or ():
        if not Path(dataset_dir).is_dir():
            raise ValueError(f"--eval_dataset_dir {dataset_dir}: no such folder")
        names = load_saved_corpus(dataset_dir)[0].features["label"].names
        if not set(names) & set(model_labels):
            raise ValueError(
                f"--eval_dataset_dir {dataset_dir}: its classes ({', '.join(names)}) share no "
                f"name with the model's ({', '.join(model_labels)})"
            )


def evaluate_corpora(
    model_dir,
    dataset_dirs,
    output_dir=None,
    batch_size: int = 8,
    overwrite: bool = False,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> list[dict]:
    """`evaluate_corpus` for each folder (results into `output_dir`, default the model's).
    Every result folder is chosen before anything is scored, so a refusal costs nothing."""
    output_dir = output_dir or model_dir
    folders: list[Path] = []
    layout = model_layout(model_dir)
    for dataset_dir in dataset_dirs or ():
        dataset, record = load_saved_corpus(dataset_dir)
        check_corpus_targets(layout, dataset, record, dataset_dir)  # before anything is scored
        name = corpus_name(record, dataset_dir)
        folders.append(
            result_folder(output_dir, name, dataset_dir, model_dir, overwrite, tuple(folders))
        )
    return [
        evaluate_corpus(model_dir, dataset_dir, folder, batch_size, resamples, seed)
        for dataset_dir, folder in zip(dataset_dirs or (), folders, strict=True)
    ]
