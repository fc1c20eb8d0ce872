"""Cross-corpus evaluation: a saved classifier scored on another prepared corpus, labels matched
by name (`--eval_dataset_dir` after training, and `ser-evaluate` for any saved model).

Two numbers per corpus, both over the clips whose true label the model knows:
- `shared_classes`: the model's classes the corpus lacks are masked out (their probabilities
  dropped and the rest renormalised, which is the softmax of the masked logits), so the task is
  the corpus's own classes only;
- `unrestricted`: the model's plain answer; a class the corpus lacks counts as an error.
Clips of classes the model lacks cannot be right and are counted, not scored. Each corpus gets
`cross_corpus/NAME/test_predictions.csv` (every clip: its fields, the true label, both
predictions, each model class's probability), `results.json` and `README.md`; every number in
the results recomputes from the table, whose probabilities are what `pipeline` gives each clip.
NAME is a safe folder name (never hidden, `.` or `..`, no separators: a manifest called
`...csv` once wrote over the model's own README.md). A second result never replaces a first
silently: another dataset or model with the same corpus name gets `NAME-2`, `NAME-3`, ...; the
same dataset and model again is refused unless --overwrite (a training run replaces its own).
A model with continuous targets (regression, multitask) is scored per target on a corpus that
carries them (training.evaluation.cross_corpus_targets).

    ser-evaluate --model_dir runs/small --dataset_dir data/crema_d --dataset_dir data/tess
"""

from __future__ import annotations

import csv
import io
import json
import logging
import sys
from pathlib import Path

import numpy as np

from data_scripts.common.arrow_cache import recorded_decode_settings
from data_scripts.common.atomic_write import write_json_atomic, write_text_atomic
from data_scripts.common.cli_errors import USER_ERRORS, fail
from data_scripts.common.command_logging import setup_logging
from data_scripts.common.command_options import CommandParser
from data_scripts.corpora.corpus_record import corpus_name, load_saved_corpus
from training.evaluation.cross_corpus_targets import (
    check_corpus_targets,
    model_layout,
    refuse_conditions,
    result_line,
    score_targets,
)
from training.evaluation.evaluate_options import EvaluateOptions
from training.evaluation.run_evaluation import split_speakers
from training.inference.classifier import EmotionClassifier
from training.model.remote_code import refuse_remote_code
from training.reports.corpus_card import cross_corpus_markdown
from training.reports.intervals import DEFAULT_RESAMPLES, DEFAULT_SEED, bootstrap_intervals
from training.reports.per_file_results import file_columns
from training.reports.scores import load_metric
from training.reports.target_card import target_cross_corpus_markdown

logger = logging.getLogger(__name__)

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


def _uar_text(scores: dict) -> str:
    entry = scores["intervals"]["metrics"]["uar"]
    return f"{100 * scores['uar']:.1f} [{100 * entry['low']:.1f}, {100 * entry['high']:.1f}]"


def build_parser() -> CommandParser:
    return CommandParser(
        EvaluateOptions,
        prog="ser-evaluate",
        description="Evaluate a saved model on other prepared corpora (labels by name, targets by "
        "column).",
    )


def main(argv: list[str] | None = None) -> int:
    args, debug = build_parser().parse_command(argv)
    setup_logging(debug)
    try:
        if not (Path(args.model_dir) / "config.json").is_file():
            raise ValueError(f"--model_dir {args.model_dir}: no config.json (not a saved model)")
        refuse_remote_code(args.model_dir)  # before any dataset is read
        layout = model_layout(args.model_dir)
        for dataset_dir in args.dataset_dir:
            if not Path(dataset_dir).is_dir():
                raise ValueError(f"--dataset_dir {dataset_dir}: no such folder")
        if args.bootstrap_resamples < 1:
            raise ValueError(f"--bootstrap_resamples {args.bootstrap_resamples}: must be 1 or more")
        if args.conditions is not None:
            from training.evaluation.robustness import run_robustness

            refuse_conditions(layout, args.model_dir)  # the class head only, for now

            def score(dataset, transform, classifier):
                return score_and_tabulate(
                    args.model_dir, dataset, args.batch_size, args.bootstrap_resamples,
                    args.bootstrap_seed, transform, classifier,
                )  # fmt: skip

            run_robustness(args, score, result_folder)
            return 0
        for flag in ("noise_dir", "rir_dir"):
            if getattr(args, flag):
                raise ValueError(f"--{flag}: used only with --conditions (add it, or leave it out)")
        results = evaluate_corpora(
            args.model_dir,
            args.dataset_dir,
            args.output_dir,
            args.batch_size,
            args.overwrite,
            args.bootstrap_resamples,
            args.bootstrap_seed,
        )
    except USER_ERRORS as error:
        fail(error, debug)
    for result in results:
        if "targets" in result:
            print(result_line(result))
            continue
        shared, plain = result["shared_classes"], result["unrestricted"]
        facts = shared["intervals"]
        who = f"{facts['speakers']} speakers, " if facts["speakers"] else "no speakers: files, "
        print(
            f"{result['corpus']}: UAR {_uar_text(shared)} % on the shared classes, "
            f"{_uar_text(plain)} % unrestricted ({who}{result['scored_files']} files; "
            f"95 % intervals, {facts['resamples']} resamples, seed {facts['seed']}; "
            f"{result['folder']})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
