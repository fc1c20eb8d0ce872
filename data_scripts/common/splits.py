"""Train/validation/test splits of any prepared corpus (rows with `speaker`, `gender`, `label`).

- `speaker` (default): disjoint speakers, gender-balanced where genders are known (men and
  women alternate in a seeded order), a fifth each for validation and test, at least one each;
  needs three speakers (use `loso` for two). RAVDESS's 24 actors give 16/4/4, 2 men and 2 women
  in validation and in test.
- `kfold`: the speakers in `num_folds` gender-balanced folds; fold `fold` tests, the next one
  validates; across all k every speaker is tested once.
- `loso`: leave one speaker out: speaker number `fold` (sorted) tests, the next one validates;
  with only two speakers (TESS) validation is a stratified fifth of the training speaker's
  files, and split.json says that validation shares its speaker with training.
- `random`: file-level, stratified by label: NOT speaker-independent. The only split for a
  corpus without speakers; split.json and the card say so.
- a corpus's own protocol (its facts' `protocols`, e.g. RAVDESS's `emobox`): fixed folds of
  test speakers; validation is a gender-balanced fifth of the other speakers (picked by the
  seed), the rest train. The summary says whether the split is the protocol's own (its rows and
  file counts) and how validation was chosen.

`split_corpus` returns the splits and their parameters (a dict, the protocol and its settings);
`split_summary` adds each split's speakers, genders, files and label counts (split.json).
`speakers`: the corpus's speakers with their genders (corpus.json); pass them so that a run on
one vocal channel splits the speakers an `all` run splits (RAVDESS's actor 18 has no song).
"""

from __future__ import annotations

import logging
import math
from collections import Counter

import datasets
import numpy as np

from data_scripts.common.split_protocols import PROTOCOLS

logger = logging.getLogger(__name__)

SPLIT_NAMES = ("train", "validation", "test")
MIN_SPEAKERS = 3
# Gender groups in the order the interleaving draws them (then any other value, sorted).
GENDER_ORDER = ("male", "female")
NOT_SPEAKER_INDEPENDENT = (
    "NOT speaker-independent: a file-level split, so the same speakers are in training and "
    "test and the scores overstate accuracy on new voices"
)


def speaker_genders(dataset: datasets.Dataset) -> dict[str, str]:
    """{speaker: gender ("" unknown)}; ValueError when some rows have a speaker and others not."""
    speakers = dataset["speaker"]
    genders = dataset["gender"]
    missing = [f for f, s in zip(dataset["file"], speakers, strict=True) if not s]
    if missing and len(missing) < len(speakers):
        raise ValueError(
            f"{len(missing)} rows have no speaker (e.g. {missing[0]}) while the others have one: "
            "give every row a speaker, or none (a file-level split)"
        )
    found: dict[str, str] = {}
    for speaker, gender in zip(speakers, genders, strict=True):
        if speaker and (gender or speaker not in found):
            found[speaker] = gender
    return found


def interleaved_speakers(genders: dict[str, str], seed: int) -> list[str]:
    """The speakers shuffled by `seed` within each gender, the genders alternating (which comes
    first also by seed), so any run of consecutive speakers is as gender-balanced as it can be.
    Men are drawn first, then women, then other values: the order RAVDESS's splits always had."""
    rng = np.random.default_rng(seed)
    others = sorted(set(genders.values()) - set(GENDER_ORDER))
    groups = [
        [str(s) for s in rng.permutation(sorted(s for s, g in genders.items() if g == gender))]
        for gender in (*GENDER_ORDER, *others)
    ]
    first = int(rng.integers(len(groups)))
    groups = groups[first:] + groups[:first]
    order = []
    for index in range(max(len(group) for group in groups)):
        order.extend(group[index] for group in groups if index < len(group))
    return order


def _check_fractions(count: int, validation_fraction: float, test_fraction: float) -> None:
    for name, fraction in (("validation", validation_fraction), ("test", test_fraction)):
        if not 0 < fraction < 1:
            raise ValueError(f"{name}_fraction must be between 0 and 1, got {fraction}")
    taken = max(1, int(count * test_fraction)) + max(1, int(count * validation_fraction))
    if taken >= count:
        raise ValueError(
            f"{count} speakers leave none for training with validation_fraction="
            f"{validation_fraction} and test_fraction={test_fraction}"
        )


def _protocol_sets(entry: dict, genders, seed, fold) -> dict[str, list[str]]:
    """A corpus's own folds: the fold's test speakers; a fifth of the others validate."""
    folds = entry["folds"]
    if str(fold) not in folds:
        numbers = sorted(int(k) for k in folds)
        raise ValueError(
            f"--fold {fold}: {entry['title']} folds are numbered {numbers[0]} to {numbers[-1]}"
        )
    test = sorted(s for s in folds[str(fold)] if s in genders)
    rest = {s: g for s, g in genders.items() if s not in test}
    if not test or len(rest) < 2:
        raise ValueError(
            f"{entry['title']} fold {fold} tests speakers {folds[str(fold)]}; the data has "
            f"speakers {sorted(genders)}, which leaves no test or no train/validation speakers"
        )
    order = interleaved_speakers(rest, seed)
    count = max(1, len(rest) // 5)
    return {"train": sorted(order[count:]), "validation": sorted(order[:count]), "test": test}


def _speaker_sets(protocol, genders, seed, fold, num_folds, fractions) -> dict[str, list[str]]:
    count = len(genders)
    if protocol == "loso":
        if not 0 <= fold < count:
            raise ValueError(f"--fold {fold}: leave-one-speaker-out folds are 0 to {count - 1}")
        ranked = sorted(genders)
        test = [ranked[fold]]
        validation = [ranked[(fold + 1) % count]] if count >= MIN_SPEAKERS else []
        train = [s for s in ranked if s not in test + validation]
        return {"train": train, "validation": validation, "test": test}
    if count < MIN_SPEAKERS:
        raise ValueError(
            f"--split {protocol} needs at least {MIN_SPEAKERS} speakers, this corpus has {count} "
            f"({', '.join(sorted(genders))}); use --split loso --fold 0 (leave one speaker out)"
        )
    order = interleaved_speakers(genders, seed)
    if protocol == "kfold":
        if not MIN_SPEAKERS <= num_folds <= count or not 0 <= fold < num_folds:
            raise ValueError(
                f"--num_folds {num_folds} --fold {fold}: give 3 to {count} folds and a fold "
                "below that"
            )
        folds = [sorted(str(s) for s in part) for part in np.array_split(order, num_folds)]
        held = (fold, (fold + 1) % num_folds)
        train = [s for k, part in enumerate(folds) if k not in held for s in part]
        return {"train": sorted(train), "validation": folds[held[1]], "test": folds[fold]}
    validation_fraction, test_fraction = fractions
    _check_fractions(count, validation_fraction, test_fraction)
    num_test = max(1, int(count * test_fraction))
    num_validation = max(1, int(count * validation_fraction))
    return {
        "train": sorted(order[num_test + num_validation :]),
        "validation": sorted(order[num_test : num_test + num_validation]),
        "test": sorted(order[:num_test]),
    }


def stratified_split(
    dataset, seed, fraction, what: str
) -> tuple[datasets.Dataset, datasets.Dataset]:
    """(rest, part) with `fraction` of every label in `part`; refuses labels too small."""
    names = dataset.features["label"].names
    counts = Counter(dataset["label"])
    small = {names[label]: n for label, n in counts.items() if n < 3}
    if small:
        listed = ", ".join(f"{name} ({n} files)" for name, n in sorted(small.items()))
        raise ValueError(
            f"the {what} split needs at least 3 files of every label; {listed}: add files, or "
            "leave the label out of the data"
        )
    taken = math.ceil(fraction * len(dataset))  # as datasets rounds a fractional test_size
    if taken < len(counts):
        raise ValueError(
            f"the {what} split takes {fraction:.0%} of {len(dataset)} files ({taken}), fewer than "
            f"the {len(counts)} labels it must hold; it needs at least "
            f"{math.ceil(len(counts) / fraction)} files: add files, or leave labels out"
        )
    # datasets 5.2's train_test_split names indices cache files for any dataset read from disk,
    # then refuses them with keep_in_memory (and without it would write them into the user's
    # saved folder): split an in-memory table of the labels and row numbers instead, the same
    # stratified draw, and select those rows in memory.
    rows = datasets.Dataset.from_dict(
        {"label": dataset["label"], "row": np.arange(len(dataset))},
        features=datasets.Features(
            {"label": dataset.features["label"], "row": datasets.Value("int64")}
        ),
    )
    parts = rows.train_test_split(test_size=fraction, seed=seed, stratify_by_column="label")
    return tuple(dataset.select(parts[n]["row"], keep_in_memory=True) for n in ("train", "test"))


def _universe(dataset: datasets.Dataset, speakers: dict[str, str] | None) -> dict[str, str]:
    present = speaker_genders(dataset)
    if speakers is None:
        return present
    unknown = sorted(set(present) - set(speakers))
    if unknown:
        raise ValueError(
            f"rows of speakers {unknown} are not among the speakers {sorted(speakers)}"
        )
    return dict(speakers)


def split_corpus(
    dataset: datasets.Dataset,
    protocol: str = "speaker",
    seed: int = 0,
    fold: int = 0,
    num_folds: int = 6,
    validation_fraction: float = 0.2,
    test_fraction: float = 0.2,
    speakers: dict[str, str] | None = None,
    protocols: dict | None = None,
) -> tuple[datasets.DatasetDict, dict]:
    """train/validation/test for `protocol`, deterministic for a seed, and the parameters that
    made them (see split_summary). `protocols`: the corpus's own (its facts' `protocols`)."""
    protocols = protocols or {}
    if protocol not in PROTOCOLS and protocol not in protocols:
        known = ", ".join([*PROTOCOLS, *protocols])
        raise ValueError(f"--split {protocol!r} is not one of {known} for this corpus")
    genders = _universe(dataset, speakers)
    parameters = {"protocol": protocol, "seed": seed, "speaker_independent": True}
    if protocol != "random" and not genders:
        logger.warning("no speakers known: a file-level split, %s", NOT_SPEAKER_INDEPENDENT)
        parameters.update(requested=protocol, protocol="random", reason="no speakers known")
        protocol = "random"
    if protocol == "random":
        logger.warning("split 'random' is file-level: %s", NOT_SPEAKER_INDEPENDENT)
        rest, test = stratified_split(dataset, seed, test_fraction, "file-level")
        train, validation = stratified_split(
            rest, seed, validation_fraction / (1 - test_fraction), "file-level"
        )
        parameters.update(speaker_independent=False, note=NOT_SPEAKER_INDEPENDENT)
        return datasets.DatasetDict({"train": train, "validation": validation, "test": test}), (
            parameters
        )
    if protocol in protocols:
        chosen = _protocol_sets(protocols[protocol], genders, seed, fold)
        parameters.update(fold=fold, test_speakers=list(protocols[protocol]["folds"][str(fold)]))
    else:
        chosen = _speaker_sets(
            protocol, genders, seed, fold, num_folds, (validation_fraction, test_fraction)
        )
    row_speakers = np.asarray(dataset["speaker"])
    splits = datasets.DatasetDict(
        {
            name: dataset.select(
                np.flatnonzero(np.isin(row_speakers, chosen[name])), keep_in_memory=True
            )
            for name in SPLIT_NAMES
        }
    )
    if not chosen["validation"]:
        splits["train"], splits["validation"] = stratified_split(
            splits["train"], seed, validation_fraction, "validation"
        )
        parameters["validation_note"] = (
            "two speakers: validation is a stratified part of the training speaker's files "
            "(shares its speaker with training); test is speaker-independent"
        )
    empty = [name for name in SPLIT_NAMES if len(splits[name]) == 0]
    if empty:
        raise ValueError(
            f"the {protocol} split (seed {seed}) leaves no rows in {', '.join(empty)}: its "
            f"speakers {[chosen[n] for n in empty]} have no recordings here; choose another "
            "--split_seed or --num_folds"
        )
    if protocol in ("kfold", "loso"):
        parameters["fold"] = fold
    if protocol == "kfold":
        parameters["num_folds"] = num_folds
    return splits, parameters


def split_each_corpus(
    dataset: datasets.Dataset,
    protocol: str = "speaker",
    seed: int = 0,
    fold: int = 0,
    num_folds: int = 6,
) -> tuple[datasets.DatasetDict, dict]:
    """`split_corpus` within each corpus of a combined dataset (its `corpus` column), the parts
    put together: every corpus is in train, validation and test, speaker-independent in each."""
    if protocol == "loso":
        raise ValueError("--split loso is for one corpus; with several use speaker or kfold")
    column = np.asarray(dataset["corpus"])
    parts: dict[str, list] = {name: [] for name in SPLIT_NAMES}
    per_corpus = {}
    for name in sorted(set(column.tolist())):
        subset = dataset.select(np.flatnonzero(column == name), keep_in_memory=True)
        try:
            splits, per_corpus[name] = split_corpus(subset, protocol, seed, fold, num_folds)
        except ValueError as error:
            raise ValueError(f"corpus {name}: {error}") from error
        for split in SPLIT_NAMES:
            parts[split].append(splits[split])
    combined = datasets.DatasetDict(
        {name: datasets.concatenate_datasets(parts[name]) for name in SPLIT_NAMES}
    )
    return combined, {
        "protocol": protocol,
        "seed": seed,
        "speaker_independent": all(p["speaker_independent"] for p in per_corpus.values()),
        "per_corpus": per_corpus,
    }


def protocol_comparability(splits: datasets.DatasetDict, entry: dict) -> dict:
    """Whether these splits are a corpus protocol's own (its rows only, e.g. RAVDESS's speech,
    and its file counts), how validation was chosen, and, when not comparable, why."""
    column, value, files = entry.get("column"), entry.get("value"), entry.get("files") or {}
    reasons = []
    if column:
        found = sorted(
            set().union(*(set(map(str, s[column])) for s in splits.values() if len(s)))
            if all(column in s.column_names for s in splits.values())
            else {"unknown"}
        )
        if found != [value]:
            named = column.replace("_", " ")
            reasons.append(f"{named}s {', '.join(found)} ({entry['title']}: {value} only)")
    test = len(splits["test"])
    train = len(splits["train"]) + len(splits["validation"])
    if files and (test, train) != (files["test"], files["train"]):
        reasons.append(
            f"{test} test and {train} train files ({entry['title']}: {files['test']} and "
            f"{files['train']})"
        )
    return {
        "comparable": not reasons,
        "note": (
            f"{entry['title']}'s fold: its test speakers, its {files.get('train')} training files"
            if not reasons
            else f"NOT {entry['title']}'s numbers: " + "; ".join(reasons)
        ),
        "validation": entry.get("validation", ""),
    }


def split_summary(
    splits: datasets.DatasetDict, parameters: dict, protocols: dict | None = None
) -> dict:
    """The parameters, and per split: speakers, their genders, files and label counts
    (split.json). Raises ValueError when a speaker-independent split shares a speaker."""
    summary = dict(parameters, splits={})
    for name, split in splits.items():
        genders = speaker_genders(split)
        # A corpus of continuous targets only has no label (-1): no label counts.
        labels = Counter(
            split.features["label"].int2str(int(i)) for i in split["label"] if int(i) >= 0
        )
        summary["splits"][name] = {
            "count": len(split),
            "speakers": sorted(genders),
            "genders": dict(Counter(g or "unknown" for g in genders.values())),
            "labels": dict(sorted(labels.items())),
            "files": sorted(split["file"]),
        }
        if "corpus" in split.column_names:
            summary["splits"][name]["corpora"] = dict(sorted(Counter(split["corpus"]).items()))
    if parameters["speaker_independent"]:
        seen: dict[str, str] = {}
        for name in SPLIT_NAMES:
            for speaker in summary["splits"][name]["speakers"]:
                if speaker in seen and "validation_note" not in parameters:
                    raise ValueError(f"speaker {speaker} is in both {seen[speaker]} and {name}")
                seen.setdefault(speaker, name)
        test = set(summary["splits"]["test"]["speakers"])
        for name in ("train", "validation"):
            shared = test & set(summary["splits"][name]["speakers"])
            if shared:
                raise ValueError(f"speakers {sorted(shared)} are in both test and {name}")
    entry = (protocols or {}).get(parameters["protocol"])
    if entry:
        summary["protocol_check"] = protocol_comparability(splits, entry)
    return summary
