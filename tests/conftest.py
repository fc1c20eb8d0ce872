"""Shared fixtures: offline sample archives and a tiny CTC checkpoint, made once per session."""

from __future__ import annotations

import os

# One torch thread per test process: `make test` runs two workers on two cores, and each worker
# and every command it starts would otherwise take one OpenMP thread per core; the surplus
# threads spin while they wait and, on tiny models, cost more CPU than they compute (a one-epoch
# tiny run beside another job: 20 s of CPU with two threads, 12 s with one). Set before torch is
# imported here or in a worker; a value the caller exports wins.
os.environ.setdefault("OMP_NUM_THREADS", "1")
import shutil
from pathlib import Path

import pytest
from filelock import FileLock
from training_helpers import TINY_CONFIG, run_command, train_command

from data_scripts.corpora.ravdess.sample_archives import write_sample_archives
from training.demo.stand_in_checkpoint import write_ctc_checkpoint

# The slowest test files (trainings, servers, exports; measured with `pytest -v` timestamps, about
# 20-70 s each on 2 cores), in the order `make test` starts them. pytest-xdist's `--dist loadfile`
# hands whole files to its two workers in collection order (`make test` turns off its own
# reordering by test count, which put these files last): started first, they no longer leave one
# worker finishing a long file while the other idles. A file not listed runs after these.
SLOWEST_FIRST = (
    "tests/inference/test_export.py",
    "tests/evaluation/test_evaluate_targets.py",
    "tests/serving/test_stream.py",
    "tests/serving/test_regression_serving.py",
    "tests/test_console_scripts.py",
    "tests/training/test_frozen_probe.py",
    "tests/training/test_training.py",
    "tests/test_command_imports.py",
    "tests/serving/test_serve.py",
    "tests/training/test_dimension_training.py",
    "tests/data/test_splits.py",
    "tests/data/test_ravdess_builder.py",
    "tests/evaluation/test_robustness.py",
    "tests/training/test_cnn_feature_cache.py",
    "tests/training/test_corpus_training.py",
    "tests/training/test_early_stopping.py",
)


def pytest_collection_modifyitems(config, items):
    rank = {name: index for index, name in enumerate(SLOWEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0], len(rank)))  # stable


# Four actors (two male, two female) keep every test fast while covering both genders
# and the speaker-split logic; actor 18 is not among them, so song is complete here.
SAMPLE_ACTORS = (1, 2, 3, 4)


@pytest.fixture(scope="session")
def sample_archives(tmp_path_factory):
    """{'speech': SampleArchive, 'song': SampleArchive} for SAMPLE_ACTORS, short clips."""
    return write_sample_archives(tmp_path_factory.mktemp("archives"), SAMPLE_ACTORS)


@pytest.fixture(scope="session")
def sample_data_dir(sample_archives, tmp_path_factory):
    """A data dir as the download command leaves it (archives verified, extracted, mapped)."""
    from data_scripts.corpora.ravdess.download import download_and_map

    data_dir = tmp_path_factory.mktemp("data")
    archive_dir = next(iter(sample_archives.values())).path.parent
    checksums = {a.path.name: (a.size, a.md5) for a in sample_archives.values()}
    download_and_map(data_dir, archive_dir=archive_dir, checksums=checksums)
    return data_dir


@pytest.fixture(scope="session")
def checkpoint(tmp_path_factory) -> Path:
    """A tiny random wav2vec2 CTC checkpoint (configs/models/tiny.json) as pytorch_model.bin."""
    directory = tmp_path_factory.mktemp("checkpoint")
    write_ctc_checkpoint(TINY_CONFIG, directory, "bin", seed=0)
    return directory


@pytest.fixture(scope="session")
def train_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="session")
def one_epoch_run(checkpoint, sample_data_dir, train_cache, tmp_path_factory) -> tuple[Path, Path]:
    """(run, pushed): one barely trained run (one epoch on the speech files, the presets' group
    norm and weighted layers; its answers are close calls) pushed with --push_to_dir. The export
    tests and the predict-equals-evaluation tests read it and never change it.

    A training run is the slowest thing a test does, so it is made once for the whole session,
    also across pytest-xdist's workers: the first one trains under a file lock in their shared
    temporary folder, the other finds the finished run there."""
    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent
    root = shared / "one_epoch_run"
    run, pushed, done = root / "run", root / "pushed", root / "finished"
    with FileLock(str(shared / "one_epoch_run.lock")):
        if not done.is_file():
            shutil.rmtree(root, ignore_errors=True)  # a failed attempt's leftovers
            root.mkdir()
            run_command(
                train_command(
                    checkpoint, run,
                    "--data_dir", str(sample_data_dir), "--cache_dir", str(train_cache),
                    "--vocal_channel", "speech", "--num_train_epochs", "1",
                    "--pooling", "weighted_layers", "--push_to_dir", str(pushed),
                ),
                timeout=1800,  # one epoch takes seconds alone, minutes on a shared 2-core machine
            )  # fmt: skip
            done.touch()
    return run, pushed
