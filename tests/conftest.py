"""Shared fixtures: offline sample archives and a tiny CTC checkpoint, made once per session."""

from __future__ import annotations

from pathlib import Path

import pytest
from training_helpers import TINY_CONFIG

from data_scripts.corpora.ravdess.sample_archives import write_sample_archives
from training.demo.stand_in_checkpoint import write_ctc_checkpoint

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
