"""Files per actor and vocal channel, compared with what RAVDESS holds for those actors.

A subset of actors is legitimate (the demo and the tests use four); an actor with fewer files
than RAVDESS holds for it, or a requested channel with no files, is a partial corpus that must
never pass for the full one. The counts go into the saved dataset's description and the card.
"""

from __future__ import annotations

from collections import Counter

from data_scripts.corpora.ravdess.facts import ACTORS, file_names_for_actor


def count_files(rows: list[tuple[int, str]]) -> dict[str, dict[int, int]]:
    """{channel: {actor: files}} from (actor, vocal_channel) pairs."""
    counts: dict[str, Counter] = {}
    for actor, channel in rows:
        counts.setdefault(channel, Counter())[int(actor)] += 1
    return {channel: dict(sorted(c.items())) for channel, c in sorted(counts.items())}


def shortfalls(counts: dict[str, dict[int, int]], channels: tuple[str, ...]) -> list[str]:
    """One line per requested channel with no files and per actor with fewer files than RAVDESS
    holds for it (60 speech, 44 song, no song for actor 18)."""
    problems = []
    for channel in channels:
        per_actor = counts.get(channel, {})
        if not per_actor:
            problems.append(f"{channel}: no files at all")
            continue
        for actor, found in per_actor.items():
            expected = len(file_names_for_actor(actor, channel))
            if found < expected:
                problems.append(f"{channel} actor {actor:02d}: {found} files of {expected}")
    return problems


def describe(counts: dict[str, dict[int, int]], channels: tuple[str, ...]) -> str:
    """A paragraph for DatasetInfo.description and the model card: counts, subset, shortfalls."""
    lines = []
    for channel in channels:
        per_actor = counts.get(channel, {})
        listed = ", ".join(f"{actor:02d}:{n}" for actor, n in per_actor.items()) or "none"
        lines.append(f"{channel}: {sum(per_actor.values())} files; per actor {listed}.")
    actors = sorted({a for per_actor in counts.values() for a in per_actor})
    if len(actors) < len(ACTORS):
        lines.append(f"A subset of RAVDESS: {len(actors)} of {len(ACTORS)} actors.")
    problems = shortfalls(counts, channels)
    if problems:
        lines.append("INCOMPLETE (fewer files than RAVDESS holds): " + "; ".join(problems) + ".")
    else:
        lines.append("Every actor present has all of its RAVDESS files.")
    return " ".join(lines)


def describe_rows(actors, vocal_channels, channels: tuple[str, ...]) -> str:
    """`describe` for a dataset's `actor` and `vocal_channel` columns."""
    return describe(count_files(list(zip(actors, vocal_channels, strict=True))), channels)
