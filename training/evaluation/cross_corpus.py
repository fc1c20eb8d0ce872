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

import logging
import sys
from pathlib import Path

from data_scripts.common.cli_errors import USER_ERRORS, fail
from data_scripts.common.command_logging import setup_logging
from data_scripts.common.command_options import CommandParser
from training.evaluation.evaluate_options import EvaluateOptions

logger = logging.getLogger(__name__)
# The scoring (training.evaluation.cross_corpus_scoring: the classifier, datasets) is imported
# after the options are parsed; these names are the ones callers have always imported from here.
_SCORING_NAMES = (
    "CROSS_CORPUS_DIR", "PREDICTIONS_FILE", "RESULTS_FILE", "check_eval_datasets",
    "evaluate_corpora", "evaluate_corpus", "evaluate_probabilities", "predictions_table",
    "result_folder", "score_and_tabulate", "score_dataset",
)  # fmt: skip


def __getattr__(name: str):
    if name in _SCORING_NAMES:
        from training.evaluation import cross_corpus_scoring

        return getattr(cross_corpus_scoring, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
    from training.evaluation import cross_corpus_scoring as scoring  # the classifier: only now
    from training.evaluation.cross_corpus_targets import (
        model_layout,
        refuse_conditions,
        result_line,
    )
    from training.model.remote_code import refuse_remote_code

    scoring.logger = logger  # its lines keep the command's name (`__main__` under `python -m`)
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
                return scoring.score_and_tabulate(
                    args.model_dir, dataset, args.batch_size, args.bootstrap_resamples,
                    args.bootstrap_seed, transform, classifier,
                )  # fmt: skip

            run_robustness(args, score, scoring.result_folder)
            return 0
        for flag in ("noise_dir", "rir_dir"):
            if getattr(args, flag):
                raise ValueError(f"--{flag}: used only with --conditions (add it, or leave it out)")
        results = scoring.evaluate_corpora(
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
