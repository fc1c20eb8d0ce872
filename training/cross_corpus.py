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

    ser-evaluate --model_dir runs/small --dataset_dir data/crema_d --dataset_dir data/tess
"""

from __future__ import annotations

import argparse
import csv
import io
import logging
import re
import sys
from pathlib import Path

import datasets
import numpy as np
import torch
from transformers import AutoFeatureExtractor

from data_scripts.common.arrow_cache import recorded_decode_settings
from data_scripts.common.atomic_write import write_json_atomic, write_text_atomic
from data_scripts.common.cli_errors import USER_ERRORS, fail, pop_debug_flag
from data_scripts.corpora.builder import recorded_corpus_facts
from training.model.decode_settings import model_decode_settings
from training.model.exact_forward import make_batch_independent
from training.model.short_clips import too_short
from training.model.trained_classifier import load_trained_classifier
from training.reports.corpus_card import cross_corpus_markdown
from training.reports.per_file_results import file_columns
from training.reports.scores import load_metric

logger = logging.getLogger(__name__)

CROSS_CORPUS_DIR = "cross_corpus"
PREDICTIONS_FILE = "test_predictions.csv"
RESULTS_FILE = "results.json"


def corpus_name(dataset: datasets.Dataset, dataset_dir: str | Path) -> str:
    """The corpus's recorded name (crema_d, tess, ...), RAVDESS's, or the folder's name."""
    facts = recorded_corpus_facts(dataset)
    if facts:
        return re.sub(r"[^\w.-]", "_", facts["name"])
    if "actor" in dataset.column_names:
        return "ravdess"
    return re.sub(r"[^\w.-]", "_", Path(dataset_dir).resolve().name)


def load_eval_dataset(dataset_dir: str | Path) -> datasets.Dataset:
    dataset = datasets.load_from_disk(str(dataset_dir))
    if isinstance(dataset, datasets.DatasetDict):
        dataset = datasets.concatenate_datasets(list(dataset.values()))
    return dataset


@torch.inference_mode()
def score_dataset(
    model_dir, dataset, batch_size: int = 8, transform=None
) -> tuple[np.ndarray, list[str], list]:
    """(probabilities of the scored rows, the model's labels, the rows too short to score).
    Clips in length order, batch-independent (each clip's answer is its `pipeline` answer).
    `transform(audio, row)`: a corruption of each clip first (training.robustness)."""
    extractor = AutoFeatureExtractor.from_pretrained(model_dir)
    model = load_trained_classifier(model_dir).eval()
    make_batch_independent(model)
    recorded = recorded_decode_settings(dataset)
    if recorded is not None and recorded != model_decode_settings(extractor):
        logger.warning("the dataset was decoded with other settings than the model's training data")
    labels = [model.config.id2label[i] for i in range(model.config.num_labels)]
    lengths = np.asarray(dataset["length"])
    short = [i for i, n in enumerate(lengths) if too_short(model, int(n))]
    kept = np.array([i for i in np.argsort(lengths, kind="stable") if i not in set(short)])
    probabilities = np.zeros((len(dataset), len(labels)), dtype=np.float32)
    view = dataset.with_format("numpy", columns=["audio"])
    for start in range(0, len(kept), batch_size):
        rows = kept[start : start + batch_size]
        arrays = [view[int(i)]["audio"]["array"] for i in rows]
        if transform is not None:
            arrays = [transform(array, int(i)) for array, i in zip(arrays, rows, strict=True)]
        inputs = extractor(
            arrays,
            sampling_rate=extractor.sampling_rate,
            padding=True,
            return_attention_mask=True,
            return_tensors="pt",
        )
        logits = model(**inputs).logits
        probabilities[rows] = torch.softmax(logits.float(), dim=-1).numpy()
    return probabilities, labels, short


def evaluate_probabilities(probabilities, true_names, model_labels) -> dict:
    """Both numbers (see the module docstring) from per-clip probabilities and true names."""
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
    results["shared_classes"] = metric.compute(
        predictions=masked,
        references=np.array([shared.index(name) for name in true_names[known]]),
        label_names=shared,
    )
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


def score_and_tabulate(model_dir, dataset, batch_size: int = 8, transform=None):
    """(results, per-file table text) of the saved model on `dataset`, each clip first passed
    through `transform(audio, row)` when given (the robustness conditions)."""
    probabilities, model_labels, short = score_dataset(model_dir, dataset, batch_size, transform)
    names = dataset.features["label"].names
    keep = [i for i in range(len(dataset)) if i not in set(short)]
    true_names = [names[label] for label in np.asarray(dataset["label"])[keep]]
    results = {
        "files": len(dataset),
        "dropped_too_short": [dataset["file"][i] for i in short],
        **evaluate_probabilities(probabilities[keep], true_names, model_labels),
    }
    table = predictions_table(
        dataset, probabilities, model_labels, results["shared_labels"], set(short)
    )
    return results, table


def evaluate_corpus(model_dir, dataset_dir, output_dir, batch_size: int = 8) -> dict:
    """Score the saved model on one prepared corpus and write its three files; the results."""
    dataset = load_eval_dataset(dataset_dir)
    name = corpus_name(dataset, dataset_dir)
    scored, table = score_and_tabulate(model_dir, dataset, batch_size)
    results = {
        "corpus": name,
        "dataset_dir": str(dataset_dir),
        "model_dir": str(model_dir),
        **scored,
    }
    folder = Path(output_dir) / CROSS_CORPUS_DIR / name
    write_text_atomic(folder / PREDICTIONS_FILE, table)
    write_json_atomic(folder / RESULTS_FILE, results)
    write_text_atomic(folder / "README.md", cross_corpus_markdown([results]) + "\n")
    return results


def check_eval_datasets(dataset_dirs, model_labels) -> None:
    """Before any training: every --eval_dataset_dir is a saved dataset sharing a class name."""
    for dataset_dir in dataset_dirs or ():
        if not Path(dataset_dir).is_dir():
            raise ValueError(f"--eval_dataset_dir {dataset_dir}: no such folder")
        names = load_eval_dataset(dataset_dir).features["label"].names
        if not set(names) & set(model_labels):
            raise ValueError(
                f"--eval_dataset_dir {dataset_dir}: its classes ({', '.join(names)}) share no "
                f"name with the model's ({', '.join(model_labels)})"
            )


def evaluate_corpora(model_dir, dataset_dirs, output_dir=None, batch_size: int = 8) -> list[dict]:
    """`evaluate_corpus` for each folder (results into `output_dir`, default the model's)."""
    output_dir = output_dir or model_dir
    return [evaluate_corpus(model_dir, d, output_dir, batch_size) for d in dataset_dirs or ()]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Evaluate a saved classifier on other prepared corpora (labels by name)."
    )
    parser.add_argument("--model_dir", required=True, help="a saved classifier directory")
    parser.add_argument(
        "--dataset_dir", action="append", required=True, help="a prepared dataset (repeatable)"
    )
    parser.add_argument("--output_dir", help="where cross_corpus/NAME/ goes (default: model_dir)")
    parser.add_argument("--batch_size", type=int, default=8)
    parser.add_argument(
        "--conditions",
        help="robustness: comma-separated conditions, e.g. clean,noise@20,noise@10,noise@5,"
        "reverb,telephone,mp3@32k (docs/robustness.md); results in robustness/NAME/",
    )
    parser.add_argument("--noise_dir", help="with --conditions: noise recordings for noise@SNR")
    parser.add_argument("--rir_dir", help="with --conditions: room impulse responses for reverb")
    parser.add_argument("--seed", type=int, default=0, help="with --conditions: corruption seed")
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error")
    return parser


def run_robustness(args) -> list[dict]:
    """`--conditions`: every condition on every --dataset_dir (training.robustness)."""
    from training.augment.conditions import parse_conditions
    from training.robustness import evaluate_robustness, print_summary, summarise_in_card

    conditions = parse_conditions(args.conditions)  # all refusals before any scoring
    reports = []
    for dataset_dir in args.dataset_dir:
        dataset = load_eval_dataset(dataset_dir)
        reports.append(
            evaluate_robustness(
                args.model_dir, dataset, corpus_name(dataset, dataset_dir), conditions,
                lambda subset, corrupt: score_and_tabulate(
                    args.model_dir, subset, args.batch_size, corrupt
                ),
                args.output_dir, args.seed, args.noise_dir, args.rir_dir,
            )
        )  # fmt: skip
    summarise_in_card(args.output_dir, args.model_dir, reports)
    print_summary(reports)
    return reports


def main(argv: list[str] | None = None) -> int:
    """0 on success (a console script's exit status); refusals exit 1 with one line."""
    debug, argv = pop_debug_flag(argv)
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        if not (Path(args.model_dir) / "config.json").is_file():
            raise ValueError(f"--model_dir {args.model_dir}: no config.json (not a saved model)")
        for dataset_dir in args.dataset_dir:
            if not Path(dataset_dir).is_dir():
                raise ValueError(f"--dataset_dir {dataset_dir}: no such folder")
        if args.conditions is not None:
            run_robustness(args)
            return 0
        results = evaluate_corpora(
            args.model_dir, args.dataset_dir, args.output_dir, args.batch_size
        )
    except USER_ERRORS as error:
        fail(error, debug)
    for result in results:
        print(
            f"{result['corpus']}: UAR {100 * result['shared_classes']['uar']:.1f} % on the shared "
            f"classes, {100 * result['unrestricted']['uar']:.1f} % unrestricted "
            f"({result['scored_files']} files)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
