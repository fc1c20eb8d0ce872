"""Robustness evaluation (`ser-evaluate --conditions ...`): a saved model scored on a prepared
corpus under each condition (training.augment.conditions), each with its per-file table and
results (speaker-clustered intervals included), then one table, one PNG and the model card's
`## Robustness` section.

Which files: when the model folder holds the run's `test_predictions.csv` and every file of it
is in the corpus, the run's test split only (the model never trained on it); otherwise every
file of the corpus (another corpus: cross-corpus robustness). Scoring is cross-corpus
evaluation's own (EmotionClassifier, the same probabilities as `pipeline` gives each corrupted
clip, the same numbers), handed in by ser-evaluate as `score` and `pick_folder` so this module
does not import training.evaluation.cross_corpus, which calls it.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

from data_scripts.common.atomic_write import write_json_atomic, write_text_atomic
from data_scripts.corpora.corpus_record import corpus_name, load_saved_corpus
from training.augment.conditions import Condition, Corruptor, parse_conditions
from training.inference.classifier import EmotionClassifier
from training.reports.per_file_results import PREDICTIONS_FILE
from training.reports.robustness_card import (
    ROBUSTNESS_DIR,
    ROBUSTNESS_PNG,
    plot_accuracy_by_condition,
    robustness_markdown,
    update_card,
)

RESULTS_FILE = "results.json"
REPORT_FILE = "robustness.json"
CARD = "README.md"
# (dataset, transform(audio, row), classifier) -> (results, per-file table text).
Score = Callable[[object, Callable, EmotionClassifier], tuple[dict, str]]


def run_test_files(model_dir: Path, dataset) -> list[int] | None:
    """Rows of `dataset` that are the run's test split (from its test_predictions.csv), or
    None when the folder has no such table or some of its files are not in the corpus."""
    table = Path(model_dir) / PREDICTIONS_FILE
    if not table.is_file():
        return None
    with table.open(newline="") as handle:
        files = [row["file"] for row in csv.DictReader(handle)]
    rows = {name: i for i, name in enumerate(dataset["file"])}
    if not files or any(name not in rows for name in files):
        return None
    return sorted(rows[name] for name in files)


def evaluate_condition(dataset, condition: Condition, corruptor, score, folder: Path) -> dict:
    """Score one condition; write its table and results; return the results."""
    files = dataset["file"]
    scored, table = score(dataset, lambda audio, row: corruptor(audio, condition, files[row]))
    results = {"condition": condition.name, "source": corruptor.source(condition), **scored}
    write_text_atomic(folder / condition.name / PREDICTIONS_FILE, table)
    write_json_atomic(folder / condition.name / RESULTS_FILE, results)
    return results


def evaluate_robustness(
    model_dir,
    dataset,
    facts: dict,
    conditions: list[Condition],
    corruptor: Corruptor,
    score: Callable,
    folder: Path,
) -> dict:
    """Every condition on one corpus (`dataset`; `facts`: its corpus name and dataset_dir);
    writes `folder` (robustness/NAME) and returns its report."""
    model_dir = Path(model_dir)
    name = facts["corpus"]
    test_rows = run_test_files(model_dir, dataset)
    if test_rows is not None:
        dataset = dataset.select(test_rows, keep_in_memory=True)
        note = f"The run's test split ({len(dataset)} files of {name}, from {PREDICTIONS_FILE})."
    else:
        note = f"Every file of {name} ({len(dataset)} files)."
    report = {
        **facts,
        "folder": f"{ROBUSTNESS_DIR}/{folder.name}",
        "model_dir": str(model_dir),
        "seed": corruptor.seed,
        "files_note": note,
        "conditions": [
            evaluate_condition(dataset, condition, corruptor, score, folder)
            for condition in conditions
        ],
    }
    write_json_atomic(folder / REPORT_FILE, report)
    plot_accuracy_by_condition(report, folder / ROBUSTNESS_PNG)
    write_text_atomic(folder / "README.md", robustness_markdown(report) + "\n")
    return report


def run_robustness(args, score: Score, pick_folder: Callable) -> list[dict]:
    """`ser-evaluate --conditions`: every condition on every --dataset_dir. Conditions, folders,
    bitrates and result folders are all checked before anything is scored."""
    conditions = parse_conditions(args.conditions)
    classifier = EmotionClassifier.from_pretrained(args.model_dir, batch_size=args.batch_size)
    corruptor = Corruptor(
        classifier.sampling_rate, args.corruption_seed, args.noise_dir, args.rir_dir
    )
    corruptor.check(conditions)
    output_dir = Path(args.output_dir or args.model_dir)
    corpora, folders = [], []
    for dataset_dir in args.dataset_dir:
        dataset, record = load_saved_corpus(dataset_dir)
        name = corpus_name(record, dataset_dir)
        folder = pick_folder(
            output_dir, name, dataset_dir, args.model_dir, args.overwrite, tuple(folders),
            ROBUSTNESS_DIR, REPORT_FILE,
        )  # fmt: skip
        folders.append(folder)
        corpora.append((dataset, {"corpus": name, "dataset_dir": str(dataset_dir)}, folder))
    reports = [
        evaluate_robustness(
            args.model_dir, dataset, facts, conditions, corruptor,
            lambda subset, transform: score(subset, transform, classifier), folder,
        )
        for dataset, facts, folder in corpora
    ]  # fmt: skip
    if output_dir.resolve() == Path(args.model_dir).resolve():
        update_card(Path(args.model_dir) / CARD, reports)
    print_summary(reports)
    return reports


def print_summary(reports: list[dict]) -> None:
    """One line per corpus and condition on stdout."""
    for report in reports:
        for result in report["conditions"]:
            shared = result["shared_classes"]
            accuracy = shared["intervals"]["metrics"]["accuracy"]
            print(
                f"{report['corpus']} {result['condition']}: accuracy "
                f"{100 * shared['accuracy']:.1f} % [{100 * accuracy['low']:.1f}, "
                f"{100 * accuracy['high']:.1f}], UAR {100 * shared['uar']:.1f} % "
                f"({result['scored_files']} files; {report['folder']})"
            )
