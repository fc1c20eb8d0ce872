"""Robustness evaluation (`ser-evaluate --conditions ...`): a saved model scored on a prepared
corpus under each condition (training.augment.conditions), each with its per-file table and
results, then one table, one PNG and the model card's `## Robustness` section.

Which files: when the model folder holds the run's `test_predictions.csv` and every file of it
is in the corpus, the run's test split only (the model never trained on it); otherwise every
file of the corpus (another corpus: cross-corpus robustness). Scoring is cross_corpus's: the
same probabilities as `pipeline` gives each corrupted clip, the same two numbers (handed in as
`score`, so this module does not import training.cross_corpus, which imports it).
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

from transformers import AutoFeatureExtractor

from data_scripts.common.atomic_write import write_json_atomic, write_text_atomic
from training.augment.conditions import Condition, Corruptor
from training.reports.per_file_results import PREDICTIONS_FILE
from training.reports.robustness_card import (
    ROBUSTNESS_DIR,
    ROBUSTNESS_PNG,
    plot_accuracy_by_condition,
    robustness_markdown,
    update_card,
)

RESULTS_FILE = "results.json"
# (dataset, transform(audio, row)) -> (results, per-file table text): cross-corpus scoring,
# handed in by ser-evaluate (training.cross_corpus imports this module, not the reverse).
Score = Callable[[object, Callable], tuple[dict, str]]
CARD = "README.md"


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


def _model_rate(model_dir: Path) -> int:
    """The rate the model hears (the prepared audio is at it): the corruptions' rate."""
    return int(AutoFeatureExtractor.from_pretrained(model_dir).sampling_rate)


def evaluate_condition(dataset, condition: Condition, corruptor, score: Score, folder) -> dict:
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
    name: str,
    conditions: list[Condition],
    score: Score,
    output_dir=None,
    seed: int = 0,
    noise_dir: str | None = None,
    rir_dir: str | None = None,
) -> dict:
    """Every condition on one corpus (`dataset`, called `name`); writes robustness/NAME/ and
    returns its report. Folders and bitrates are checked before anything is scored."""
    model_dir = Path(model_dir)
    output_dir = Path(output_dir or model_dir)
    corruptor = Corruptor(_model_rate(model_dir), seed, noise_dir, rir_dir)
    corruptor.check(conditions)
    test_rows = run_test_files(model_dir, dataset)
    if test_rows is not None:
        dataset = dataset.select(test_rows, keep_in_memory=True)
        note = f"The run's test split ({len(dataset)} files of {name}, from {PREDICTIONS_FILE})."
    else:
        note = f"Every file of {name} ({len(dataset)} files)."
    folder = output_dir / ROBUSTNESS_DIR / name
    report = {
        "corpus": name,
        "model_dir": str(model_dir),
        "seed": seed,
        "files_note": note,
        "conditions": [
            evaluate_condition(dataset, condition, corruptor, score, folder)
            for condition in conditions
        ],
    }
    write_json_atomic(folder / "robustness.json", report)
    plot_accuracy_by_condition(report, folder / ROBUSTNESS_PNG)
    write_text_atomic(folder / "README.md", robustness_markdown(report) + "\n")
    return report


def print_summary(reports: list[dict]) -> None:
    """One line per corpus and condition on stdout."""
    for report in reports:
        for result in report["conditions"]:
            print(
                f"{report['corpus']} {result['condition']}: accuracy "
                f"{100 * result['shared_classes']['accuracy']:.1f} %, UAR "
                f"{100 * result['shared_classes']['uar']:.1f} % ({result['scored_files']} files)"
            )


def summarise_in_card(output_dir, model_dir, reports: list[dict]) -> None:
    """The model card's robustness section, when the results went into the model's folder."""
    if Path(output_dir or model_dir).resolve() == Path(model_dir).resolve():
        update_card(Path(model_dir) / CARD, reports)
