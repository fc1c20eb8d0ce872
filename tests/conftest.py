"""Shared fixtures: offline sample archives generated once per test session."""

from __future__ import annotations

import pytest

from data_scripts.sample_archives import write_sample_archives

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
    from data_scripts.download_and_map_emotion_data import download_and_map

    data_dir = tmp_path_factory.mktemp("data")
    archive_dir = next(iter(sample_archives.values())).path.parent
    checksums = {a.path.name: (a.size, a.md5) for a in sample_archives.values()}
    download_and_map(data_dir, archive_dir=archive_dir, checksums=checksums)
    return data_dir
