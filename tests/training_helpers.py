"""What the training tests share: the tiny preset's paths and running the training script."""

from __future__ import annotations

import contextlib
import csv
import json
import logging
import os
import random
import signal
import socket
import subprocess
import sys
import warnings
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TINY_CONFIG = REPO / "configs" / "models" / "tiny.json"
TRAIN_CONFIG = REPO / "configs" / "training" / "tiny.yaml"


def run_env() -> dict:
    env = dict(os.environ, PYTHONUNBUFFERED="1", TOKENIZERS_PARALLELISM="false")
    env["PYTHONPATH"] = str(REPO)
    return env


def train_command(checkpoint: Path, output_dir: Path, *extra: str, launcher=None) -> list[str]:
    launcher = launcher or [sys.executable, str(REPO / "training" / "wav2vec2_classification.py")]
    return [
        *launcher,
        "--train_config", str(TRAIN_CONFIG),
        "--model_path", str(checkpoint / "pytorch_model.bin"),
        "--config_path", str(checkpoint / "config.json"),
        "--output_dir", str(output_dir),
        *extra,
    ]  # fmt: skip


def run_command(command: list[str], timeout: int = 600) -> subprocess.CompletedProcess:
    result = subprocess.run(
        command, cwd=REPO, env=run_env(), capture_output=True, text=True, timeout=timeout
    )
    if result.returncode != 0:
        raise AssertionError(f"{command} failed:\n{result.stdout[-3000:]}\n{result.stderr[-6000:]}")
    return result


class _LogTail(logging.Handler):
    """The run's log lines, kept to explain a failed in-process run as its stderr would."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.levelname} {record.name}: {record.getMessage()}")


@contextlib.contextmanager
def _process_state_kept():
    """Put back what a command's main changes for the whole process, so that later tests in
    this pytest process see what they would after a subprocess. A training run changes the
    levels its logging setup gives the quietened libraries, the random generators (it seeds
    them) and the warnings filters (libraries it imports add theirs); the thread count, the
    environment, the current folder, root's handlers and signal handlers are kept too, so that
    no later change to the commands leaks into other tests unseen."""
    import numpy as np
    import torch

    root = logging.getLogger()
    names = [None, *logging.root.manager.loggerDict]
    levels = {name: logging.getLogger(name).level for name in names}
    handlers = list(root.handlers)
    environ = dict(os.environ)
    cwd = os.getcwd()
    threads = torch.get_num_threads()
    signals = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    generators = (random.getstate(), np.random.get_state(), torch.random.get_rng_state())
    with warnings.catch_warnings():
        try:
            yield
        finally:
            for name in set(logging.root.manager.loggerDict) - set(names):
                logging.getLogger(name).setLevel(logging.NOTSET)  # created by the run
            for name, level in levels.items():
                logging.getLogger(name).setLevel(level)
            root.handlers[:] = handlers
            os.environ.clear()
            os.environ.update(environ)
            os.chdir(cwd)
            torch.set_num_threads(threads)
            for number, handler in signals.items():
                signal.signal(number, handler)
            random.setstate(generators[0])
            np.random.set_state(generators[1])
            torch.random.set_rng_state(generators[2])


def main_in_process(main: Callable[[list[str]], int], argv: list[str]) -> None:
    """Run a command's `main(argv)` in this process and check it returned 0 (its log tail in
    the message when not), leaving the process as a subprocess would have (see above)."""
    tail = _LogTail()
    with _process_state_kept():
        logging.getLogger().addHandler(tail)
        # The commands' logging setup sets INFO on a bare root; pytest's root has handlers, so
        # it does not (like basicConfig), and the tail would miss the run's lines.
        logging.getLogger().setLevel(logging.INFO)
        try:
            code = main(argv)
        except SystemExit as stop:  # a refusal: `error: ...` went to stderr
            code = stop.code
        finally:
            logging.getLogger().removeHandler(tail)
    lines = "\n".join(tail.lines[-60:])
    assert code == 0, f"{argv} returned {code} (a refusal's line: captured stderr):\n{lines}"


def train_in_process(command: list[str]) -> None:
    """Run `command` (from `train_command`) as the training script's main in this process:
    the same run and outputs without a fresh interpreter importing torch and transformers
    again (about 5 s a run). For tests about what a run writes; tests about the process
    (exit codes, refusals on stderr, kills, the installed command) keep `run_command`."""
    from training.wav2vec2_classification import main

    script = str(REPO / "training" / "wav2vec2_classification.py")
    main_in_process(main, command[command.index(script) + 1 :])


def prepare_in_process(*argv: str) -> None:
    """`python -m data_scripts.corpora.prepare ARGV` in this process (about 2.4 s less)."""
    from data_scripts.corpora.prepare import main

    main_in_process(main, list(argv))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def read_json(path: Path) -> dict:
    return json.loads(path.read_text())


def predictions_table(run_dir: Path) -> tuple[list[str], list[dict]]:
    with open(run_dir / "test_predictions.csv", newline="") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames), list(reader)
