"""The leakage audit: the same audio in training and in validation or test inflates every number
silently (copies and re-exports in a user's folder or manifest), so a split that does it is
refused before any training step, naming both files.

Clips are matched by the fingerprint of their decoded 16 kHz samples (`audio_sha256`, written by
prepare; computed here for data prepared before that column existed). Copies inside one split
do not leak across the train/test boundary but weigh a recording twice: they are counted, and
the card says how many. The audit also says what the split guarantees: disjoint speakers or
not, and text shared between splits (RAVDESS's two statements are in every split by design).
"""

from __future__ import annotations

from collections import defaultdict

import datasets

from data_scripts.common.audio_hash import AUDIO_HASH_COLUMN, audio_sha256

# Fields that hold what was said: text shared across splits is reported, not refused.
TEXT_FIELDS = ("statement", "sentence", "text", "transcript")
EVALUATED = ("validation", "test")
LISTED_PAIRS = 20


def clip_hashes(split: datasets.Dataset) -> tuple[list[str], str]:
    """Each row's fingerprint, and where it came from."""
    if AUDIO_HASH_COLUMN in split.column_names:
        return list(split[AUDIO_HASH_COLUMN]), "prepared"
    view = split.with_format("numpy", columns=["audio"])
    return [audio_sha256(view[i]["audio"]["array"]) for i in range(len(split))], "computed"


def _speakers(split: datasets.Dataset) -> set[str]:
    for name in ("speaker", "actor"):
        if name in split.column_names:
            return {str(v) for v in split[name] if str(v) != ""}
    return set()


def _shared_text(splits: dict[str, datasets.Dataset]) -> dict | None:
    """The first text field present: how many of its values occur in every split."""
    for field in TEXT_FIELDS:
        if all(field in part.column_names for part in splits.values()):
            values = [set(map(str, part[field])) for part in splits.values()]
            return {"field": field, "in_every_split": len(set.intersection(*values))}
    return None


def audit_split(splits: dict[str, datasets.Dataset], allow_duplicates: bool) -> dict:
    """Refuse (ValueError naming both files) the same audio in train and validation or test,
    unless `allow_duplicates`; returns the audit recorded in split.json and the card."""
    hashes, sources = {}, set()
    for name, part in splits.items():
        hashes[name], source = clip_hashes(part)
        sources.add(source)
    where = defaultdict(list)  # fingerprint -> [(split, file)]
    for name, part in splits.items():
        for digest, file in zip(hashes[name], part["file"], strict=True):
            where[digest].append((name, file))
    across = []
    for places in where.values():
        train = [file for name, file in places if name == "train"]
        for name, file in places:
            if name in EVALUATED and train:
                across.append({"train": train[0], name: file, "split": name})
    if across and not allow_duplicates:
        first = across[0]
        more = f" (and {len(across) - 1} more)" if len(across) > 1 else ""
        raise ValueError(
            f"the same audio is in training ({first['train']}) and {first['split']} "
            f"({first[first['split']]}){more}: the {first['split']} numbers would be inflated; "
            "remove the copies or pass --allow_duplicates"
        )
    within = {name: len(hashes[name]) - len(set(hashes[name])) for name in splits if hashes[name]}
    speakers = {name: _speakers(part) for name, part in splits.items()}
    named = [s for s in speakers.values() if s]
    disjoint = None
    if len(named) == len(splits):
        disjoint = all(not (speakers[a] & speakers[b]) for a in splits for b in splits if a < b)
    return {
        "fingerprint": f"SHA-256 of the 16 kHz samples ({' and '.join(sorted(sources))})",
        "across_splits": len(across),
        "across_split_pairs": across[:LISTED_PAIRS],
        "allowed_duplicates": bool(across) and allow_duplicates,
        "within_split_duplicates": within,
        "speakers_disjoint": disjoint,
        "shared_text": _shared_text(splits),
    }
