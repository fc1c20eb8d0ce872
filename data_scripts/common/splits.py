"""Train/validation/test splits of any prepared corpus (rows with `speaker`, `gender`, `label`).

- `speaker` (default): disjoint speakers, gender-balanced where genders are known (men and
  women alternate in a seeded order), a fifth each for validation and test, at least one each;
  needs three speakers (use `loso` for two).
- `kfold`: the speakers in `num_folds` gender-balanced folds; fold `fold` tests, the next one
  validates.
- `loso`: leave one speaker out: speaker number `fold` (sorted) tests, the next one validates;
  with only two speakers (TESS) validation is a stratified fifth of the training speaker's
  files, and split.json says that validation shares its speaker with training.
- `random`: file-level, stratified by label: NOT speaker-independent. The only split for a
  corpus without speakers; split.json and the card say so.

RAVDESS datasets (an `actor` column) keep data_scripts.corpora.ravdess.splits; this module is
for the others.
"""

from __future__ import annotations

import logging
import math
from collections import Counter

import datasets
import numpy as np

logger = logging.getLogger(__name__)

PROTOCOLS = ("speaker", "kfold", "loso", "random")
SPLIT_NAMES = ("train", "validation", "test")
MIN_SPEAKERS = 3
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
    """The speakers shuffled by `seed`, alternating genders (unknown genders a group of their
    own), so any run of consecutive speakers is as gender-balanced as it can be."""
    rng = np.random.default_rng(seed)
    groups = [
        [str(s) for s in rng.permutation(sorted(s for s, g in genders.items() if g == gender))]
        for gender in sorted(set(genders.values()))
    ]
    groups = [groups[i] for i in rng.permutation(len(groups))]
    order = []
    for index in range(max(len(group) for group in groups)):
        order.extend(group[index] for group in groups if index < len(group))
    return order


def _speaker_sets(protocol, genders, seed, fold, num_folds, fractions) -> dict[str, list[str]]:
    order = interleaved_speakers(genders, seed)
    count = len(order)
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
    if protocol == "kfold":
        if not MIN_SPEAKERS <= num_folds <= count or not 0 <= fold < num_folds:
            raise ValueError(
                f"--num_folds {num_folds} --fold {fold}: give 3 to {count} folds and a fold "
                "below that"
            )
        folds = [[str(s) for s in part] for part in np.array_split(order, num_folds)]
        held = (fold, (fold + 1) % num_folds)
        train = [s for k, part in enumerate(folds) if k not in held for s in part]
        return {"train": train, "validation": folds[held[1]], "test": folds[fold]}
    validation_fraction, test_fraction = fractions
    num_test = max(1, int(count * test_fraction))
    num_validation = max(1, int(count * validation_fraction))
    return {
        "train": order[num_test + num_validation :],
        "validation": order[num_test : num_test + num_validation],
        "test": order[:num_test],
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


def split_corpus(
    dataset: datasets.Dataset,
    protocol: str = "speaker",
    seed: int = 0,
    fold: int = 0,
    num_folds: int = 6,
    validation_fraction: float = 0.2,
    test_fraction: float = 0.2,
) -> datasets.DatasetDict:
    """train/validation/test for `protocol`; `split_parameters` records how (see summary)."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"--split {protocol!r} is not one of {', '.join(PROTOCOLS)} here")
    genders = speaker_genders(dataset)
    parameters = {"protocol": protocol, "seed": seed, "speaker_independent": True}
    if protocol != "random" and not genders:
        logger.warning("no speakers known: a file-level split, %s", NOT_SPEAKER_INDEPENDENT)
        parameters.update(requested=protocol, protocol="random", reason="no speakers known")
        protocol = "random"
    if protocol == "random":
        rest, test = stratified_split(dataset, seed, test_fraction, "file-level")
        train, validation = stratified_split(
            rest, seed, validation_fraction / (1 - test_fraction), "file-level"
        )
        parameters.update(speaker_independent=False, note=NOT_SPEAKER_INDEPENDENT)
        splits = datasets.DatasetDict({"train": train, "validation": validation, "test": test})
    else:
        chosen = _speaker_sets(
            protocol, genders, seed, fold, num_folds, (validation_fraction, test_fraction)
        )
        speakers = np.asarray(dataset["speaker"])
        splits = datasets.DatasetDict(
            {
                name: dataset.select(
                    np.flatnonzero(np.isin(speakers, chosen[name])), keep_in_memory=True
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
        if protocol in ("kfold", "loso"):
            parameters["fold"] = fold
        if protocol == "kfold":
            parameters["num_folds"] = num_folds
    splits.split_parameters = parameters
    return splits


def split_each_corpus(
    dataset: datasets.Dataset,
    protocol: str = "speaker",
    seed: int = 0,
    fold: int = 0,
    num_folds: int = 6,
) -> datasets.DatasetDict:
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
            splits = split_corpus(subset, protocol, seed, fold, num_folds)
        except ValueError as error:
            raise ValueError(f"corpus {name}: {error}") from error
        per_corpus[name] = splits.split_parameters
        for split in SPLIT_NAMES:
            parts[split].append(splits[split])
    combined = datasets.DatasetDict(
        {name: datasets.concatenate_datasets(parts[name]) for name in SPLIT_NAMES}
    )
    combined.split_parameters = {
        "protocol": protocol,
        "seed": seed,
        "speaker_independent": all(p["speaker_independent"] for p in per_corpus.values()),
        "per_corpus": per_corpus,
    }
    return combined


def corpus_split_summary(splits: datasets.DatasetDict) -> dict:
    """Protocol, parameters and per split: speakers, their genders, files and label counts."""
    parameters = getattr(splits, "split_parameters", None)
    if parameters is None:
        raise ValueError("corpus_split_summary needs the DatasetDict returned by split_corpus")
    summary = dict(parameters, splits={})
    for name, split in splits.items():
        genders = speaker_genders(split)
        labels = Counter(split.features["label"].int2str(int(i)) for i in split["label"])
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
        test = set(summary["splits"]["test"]["speakers"])
        for name in ("train", "validation"):
            shared = test & set(summary["splits"][name]["speakers"])
            if shared:
                raise ValueError(f"speakers {sorted(shared)} are in both test and {name}")
    return summary
