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
