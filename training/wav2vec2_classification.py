"""Train and evaluate an emotion classifier on RAVDESS from a fine-tuned wav2vec2 checkpoint.

    python training/wav2vec2_classification.py --model_path ckpt/pytorch_model.bin \
        --config_path ckpt/config.json --data_dir data --output_dir runs/small \
        --train_config configs/training/small.yaml
    accelerate launch -m training.wav2vec2_classification ...   # one or many GPUs / machines

The output directory loads with `pipeline("audio-classification", model=output_dir)`.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

if __package__ in (None, ""):
    # Run as a file (`python training/wav2vec2_classification.py`): make the repo importable.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from data_scripts.common.cli_errors import USER_ERRORS, fail, pop_debug_flag
from data_scripts.common.command_logging import setup_logging
from training.arguments import accelerator_available, launched_world_size, parse_arguments

logger = logging.getLogger(__name__)
# The run itself (training.train_run: model code, datasets, the Trainer) is imported after the
# options are parsed; these names are the ones callers and tests have always imported from here.
_RUN_NAMES = ("run_training", "_train_and_test", "_build_model", "_build_trainer")


def __getattr__(name: str):
    if name in _RUN_NAMES:
        from training import train_run

        return getattr(train_run, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main(argv: list[str] | None = None) -> int:
    debug, argv = pop_debug_flag(argv)  # a bare --debug: tracebacks of errors
    try:
        model_args, data_args, training_args = parse_arguments(argv)
    except USER_ERRORS as error:
        fail(error, debug)
    # One process writes the run's log lines; the others only their warnings.
    setup_logging(debug, logging.INFO if training_args.process_index == 0 else logging.WARNING)
    if launched_world_size() > 1 and not accelerator_available():
        logger.info("%d processes and no GPU: one distributed run on CPU", training_args.world_size)
    from training import train_run  # model code, datasets, the Trainer: only now

    train_run.logger = logger  # the run's lines keep the command's name (`__main__` as a script)
    return train_run.run_command(model_args, data_args, training_args, argv, debug)


if __name__ == "__main__":
    sys.exit(main())
