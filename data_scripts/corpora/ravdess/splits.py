"""Train/validation/test split protocols for RAVDESS rows (any Dataset with `actor` and `label`).

- `speaker` (default): disjoint actors in train, validation and test, balanced by gender
  (odd actors male, even female); 24 actors give 16/4/4 with 2 men and 2 women in validation
  and in test. Fewer actors scale down, keeping at least one actor per split.
- `kfold`: the actors in `num_folds` gender-balanced folds; fold `fold` is test, fold
  `(fold + 1) % num_folds` validation, the rest train. Across all k every actor is tested once.
- `emobox`: EmoBox's fold `fold` (1-6, the test actors in facts.EMOBOX_TEST_ACTORS).
  EmoBox ships no validation set (its recipe takes a random 20 % of the training files, which
  shares speakers with training); here a fifth of the training actors (2 men and 2 women of 20,
  picked by `seed`) validate, speaker-disjoint, and the rest train. Its numbers are EmoBox's
  only on the 1440 speech files of all 24 actors; `split_summary` says whether they are.
- `random`: file-level, stratified by label. Not speaker-independent: the same actor appears in
  train and test; only for comparing with numbers published that way.

`split_dataset` returns a `DatasetDict` whose attribute `split_parameters` holds the protocol
and its parameters; `split_summary` adds the actors, files and counts of each split (training
writes it to `split.json`). The attribute is lost by DatasetDict operations that build a new
dict (map, filter, ...), so call `split_summary` on the dict `split_dataset` returned.
"""

from __future__ import annotations

import logging
from collections import Counter

import datasets
import numpy as np

from data_scripts.common.splits import stratified_split
from data_scripts.corpora.ravdess.facts import (
    EMOBOX_FILES,
    EMOBOX_TEST_ACTORS,
    EMOBOX_VOCAL_CHANNEL,
    actor_gender,
    parse_file_name,
)

logger = logging.getLogger(__name__)

PROTOCOLS = ("speaker", "kfold", "emobox", "random")
SPLIT_NAMES = ("train", "validation", "test")
SPEAKER_PROTOCOLS = ("speaker", "kfold", "emobox")
# Fewest actors that give train, validation and test one actor each.
MIN_ACTORS = 3


def gender_interleaved_actors(actors: list[int], seed: int) -> list[int]:
    """The actors shuffled by `seed`, alternating men and women (first gender also by seed), so
    that any run of consecutive actors is as gender-balanced as it can be."""
    rng = np.random.default_rng(seed)
    men = [int(a) for a in rng.permutation(sorted(a for a in actors if actor_gender(a) == "male"))]
    women = [
        int(a) for a in rng.permutation(sorted(a for a in actors if actor_gender(a) == "female"))
    ]
    first, second = (men, women) if rng.integers(2) == 0 else (women, men)
    order = []
    for index in range(max(len(first), len(second))):
        order.extend(group[index] for group in (first, second) if index < len(group))
    return order


def speaker_actor_split(
    actors: list[int], seed: int, validation_fraction: float, test_fraction: float
) -> dict[str, list[int]]:
    """Actors for each split: floor(fraction x actors), at least one each, gender-balanced."""
    if len(actors) < MIN_ACTORS:
        raise ValueError(f"speaker split needs at least {MIN_ACTORS} actors, got {sorted(actors)}")
    for name, fraction in (("validation", validation_fraction), ("test", test_fraction)):
        if not 0 < fraction < 1:
            raise ValueError(f"{name}_fraction must be between 0 and 1, got {fraction}")
    num_test = max(1, int(len(actors) * test_fraction))
    num_validation = max(1, int(len(actors) * validation_fraction))
    if num_test + num_validation >= len(actors):
        raise ValueError(
            f"{len(actors)} actors leave none for training with validation_fraction="
            f"{validation_fraction} and test_fraction={test_fraction}"
        )
    order = gender_interleaved_actors(actors, seed)
    return {
        "train": sorted(order[num_test + num_validation :]),
        "validation": sorted(order[num_test : num_test + num_validation]),
        "test": sorted(order[:num_test]),
    }


def actor_folds(actors: list[int], num_folds: int, seed: int) -> list[list[int]]:
    """`num_folds` gender-balanced groups of consecutive actors of the interleaved order."""
    if not MIN_ACTORS <= num_folds <= len(actors):
        raise ValueError(
            f"num_folds must be between {MIN_ACTORS} and the number of actors ({len(actors)}), "
            f"got {num_folds}"
        )
    order = gender_interleaved_actors(actors, seed)
    return [sorted(int(a) for a in fold) for fold in np.array_split(order, num_folds)]


def kfold_actor_split(
    actors: list[int], fold: int, num_folds: int, seed: int
) -> dict[str, list[int]]:
    if not 0 <= fold < num_folds:
        raise ValueError(f"fold must be between 0 and {num_folds - 1}, got {fold}")
    folds = actor_folds(actors, num_folds, seed)
    validation_fold = (fold + 1) % num_folds
    train = [a for k, group in enumerate(folds) if k not in (fold, validation_fold) for a in group]
    return {"train": sorted(train), "validation": folds[validation_fold], "test": folds[fold]}


def emobox_actor_split(actors: list[int], fold: int, seed: int) -> dict[str, list[int]]:
    """EmoBox's test actors of `fold`; validation: a gender-balanced fifth of the others."""
    if fold not in EMOBOX_TEST_ACTORS:
        raise ValueError(f"--fold {fold}: EmoBox folds are numbered 1 to {len(EMOBOX_TEST_ACTORS)}")
    test = sorted(a for a in EMOBOX_TEST_ACTORS[fold] if a in actors)
    rest = [a for a in actors if a not in test]
    if not test or len(rest) < 2:
        raise ValueError(
            f"EmoBox fold {fold} tests actors {list(EMOBOX_TEST_ACTORS[fold])}; the data has "
            f"actors {sorted(actors)}, which leaves no test or no train/validation actors"
        )
    order = gender_interleaved_actors(rest, seed)
    num_validation = max(1, len(rest) // 5)
    return {
        "train": sorted(order[num_validation:]),
        "validation": sorted(order[:num_validation]),
        "test": test,
    }


def _check_disjoint(actors_per_split: dict[str, list[int]]) -> None:
    seen: dict[int, str] = {}
    for split, actors in actors_per_split.items():
        for actor in actors:
            if actor in seen:
                raise ValueError(f"actor {actor} is in both {seen[actor]} and {split}")
            seen[actor] = split


def _random_split(
    dataset: datasets.Dataset, seed: int, validation_fraction: float, test_fraction: float
) -> datasets.DatasetDict:
    logger.warning(
        "split 'random' is file-level: the same actors are in train and test, so its scores are "
        "NOT speaker-independent; use it only to compare with numbers published that way"
    )
    rest, test = stratified_split(dataset, seed, test_fraction, "file-level")
    train, validation = stratified_split(
        rest, seed, validation_fraction / (1 - test_fraction), "file-level"
    )
    return datasets.DatasetDict({"train": train, "validation": validation, "test": test})


def split_dataset(
    dataset: datasets.Dataset,
    protocol: str = "speaker",
    seed: int = 0,
    fold: int = 0,
    num_folds: int = 6,
    validation_fraction: float = 0.2,
    test_fraction: float = 0.2,
    actors: list[int] | None = None,
) -> datasets.DatasetDict:
    """train/validation/test for `protocol`; deterministic for a seed. The result's
    `split_parameters` attribute records the protocol and parameters (see split_summary).

    `actors`: the corpus's actors to split (default: those with rows here). Pass the actors of
    every vocal channel so that a speech-only or song-only run picks the same speakers as an
    `all` run (actor 18 has no song): the split then depends only on the seed and the corpus.
    """
    if protocol not in PROTOCOLS:
        raise ValueError(f"split protocol {protocol!r} is not one of {list(PROTOCOLS)}")
    parameters = {"protocol": protocol, "seed": seed}
    if protocol == "random":
        splits = _random_split(dataset, seed, validation_fraction, test_fraction)
        parameters.update(validation_fraction=validation_fraction, test_fraction=test_fraction)
    else:
        row_actors = np.asarray(dataset["actor"])
        present = {int(a) for a in np.unique(row_actors)}
        if actors is None:
            actors = sorted(present)
        else:
            actors = sorted({int(a) for a in actors})
            unknown = sorted(present - set(actors))
            if unknown:
                raise ValueError(f"rows of actors {unknown} are not among the actors {actors}")
            parameters["corpus_actors"] = actors
        if protocol == "speaker":
            chosen = speaker_actor_split(actors, seed, validation_fraction, test_fraction)
            parameters.update(validation_fraction=validation_fraction, test_fraction=test_fraction)
        elif protocol == "emobox":
            chosen = emobox_actor_split(actors, fold, seed)
            parameters.update(fold=fold, emobox_test_actors=list(EMOBOX_TEST_ACTORS[fold]))
        else:
            chosen = kfold_actor_split(actors, fold, num_folds, seed)
            parameters.update(fold=fold, num_folds=num_folds)
        _check_disjoint(chosen)
        splits = datasets.DatasetDict(
            {
                name: dataset.select(
                    np.flatnonzero(np.isin(row_actors, chosen[name])), keep_in_memory=True
                )
                for name in SPLIT_NAMES
            }
        )
        empty = [name for name in SPLIT_NAMES if len(splits[name]) == 0]
        if empty:
            raise ValueError(
                f"the {protocol} split of actors {actors} (seed {seed}) leaves no rows in "
                f"{', '.join(empty)}: its actors {[chosen[n] for n in empty]} have no recordings "
                "of this vocal channel; choose another --split_seed or --num_folds"
            )
    splits.split_parameters = parameters
    return splits


def split_summary(splits: datasets.DatasetDict) -> dict:
    """Protocol, parameters, and per split: actors, genders, files and label counts (split.json).

    Raises ValueError when a speaker protocol's splits share an actor.
    """
    parameters = getattr(splits, "split_parameters", None)
    if parameters is None:
        raise ValueError("split_summary needs the DatasetDict returned by split_dataset")
    summary = dict(parameters, splits={})
    for name, split in splits.items():
        actors = sorted(int(a) for a in np.unique(np.asarray(split["actor"])))
        labels = Counter(split.features["label"].int2str(int(i)) for i in split["label"])
        summary["splits"][name] = {
            "count": len(split),
            "actors": actors,
            "genders": dict(Counter(actor_gender(a) for a in actors)),
            "labels": dict(sorted(labels.items())),
            "files": sorted(split["file"]) if "file" in split.column_names else [],
        }
    if parameters["protocol"] in SPEAKER_PROTOCOLS:
        _check_disjoint({name: s["actors"] for name, s in summary["splits"].items()})
    if parameters["protocol"] == "emobox":
        summary["emobox"] = emobox_comparability(splits)
    return summary


def _vocal_channels(split: datasets.Dataset) -> set[str]:
    if "vocal_channel" in split.column_names:
        return set(split["vocal_channel"])
    if "file" in split.column_names:
        return {parse_file_name(name).vocal_channel for name in split["file"]}
    return {"unknown"}


def emobox_comparability(splits: datasets.DatasetDict) -> dict:
    """Whether these splits are EmoBox's fold (speech only, 240 test and 1200 train files), how
    validation was chosen, and, when not comparable, why."""
    channels = sorted(set().union(*(_vocal_channels(split) for split in splits.values())))
    test = len(splits["test"])
    train = len(splits["train"]) + len(splits["validation"])
    reasons = []
    if channels != [EMOBOX_VOCAL_CHANNEL]:
        reasons.append(f"vocal channels {', '.join(channels)} (EmoBox: speech only)")
    if (test, train) != (EMOBOX_FILES["test"], EMOBOX_FILES["train"]):
        reasons.append(
            f"{test} test and {train} train files (EmoBox: {EMOBOX_FILES['test']} and "
            f"{EMOBOX_FILES['train']})"
        )
    return {
        "comparable": not reasons,
        "note": (
            "EmoBox's fold: its test actors, its 1200 training files"
            if not reasons
            else "NOT EmoBox's numbers: " + "; ".join(reasons)
        ),
        "validation": (
            "EmoBox ships no validation set (its recipe takes a random 20 % of the training "
            "files, which shares speakers with training). Here the validation actors are a "
            "gender-balanced fifth of EmoBox's training actors, picked by the split seed, "
            "speaker-disjoint from train and test; the model trains on the other training "
            "actors' files."
        ),
    }
