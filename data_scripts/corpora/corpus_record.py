"""`corpus.json`: what a saved dataset says about its corpus, in a small file beside its Arrow
files (inside the folder `ser-prepare` writes).

It holds the corpus's facts (name, title, label order, its own columns and their types, the
columns metrics are broken down by, extra split protocols such as RAVDESS's EmoBox folds,
license, citation), every speaker of the whole corpus with their gender (the speaker split's
universe, also when one vocal channel was built), and the description of what was found (counts,
shortfalls). Training, evaluation and the cards read it instead of asking which corpus it is.
A folder written before this file existed is refused in one line that says to prepare it again.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import datasets

from data_scripts.common.arrow_cache import recorded_decode_settings
from data_scripts.corpora.builder import describe_files
from data_scripts.corpora.interface import CorpusScan

CORPUS_FILE = "corpus.json"
RECORD_FORMAT = 1


def corpus_record(scan: CorpusScan) -> dict:
    """The record of a scanned corpus: facts, speakers (all of the corpus's), description."""
    speakers = scan.speakers
    if speakers is None:
        speakers = {}
        for clip in scan.files:
            if clip.speaker and (clip.gender or clip.speaker not in speakers):
                speakers[clip.speaker] = clip.gender
    return {
        "format": RECORD_FORMAT,
        "facts": scan.facts.as_dict(),
        "speakers": dict(sorted(speakers.items())),
        "description": scan.description or describe_files(scan.facts, scan.files),
    }


def record_text(record: dict) -> str:
    return json.dumps(record, indent=2, sort_keys=True) + "\n"


def read_corpus_record(dataset_dir: str | Path, dataset: datasets.Dataset) -> dict | None:
    """The folder's corpus.json; None for a dataset from elsewhere (not ours: no facts known);
    ValueError, one line, for one of ours saved before corpus.json existed."""
    path = Path(dataset_dir) / CORPUS_FILE
    if path.is_file():
        try:
            record = json.loads(path.read_text())
        except ValueError as error:
            raise ValueError(f"{path}: not valid JSON ({error}); run ser-prepare again") from None
        if record.get("format") != RECORD_FORMAT:
            raise ValueError(f"{path}: format {record.get('format')!r}; run ser-prepare again")
        return record
    if recorded_decode_settings(dataset) is not None:  # our builders always recorded these
        raise ValueError(
            f"{dataset_dir}: prepared by an earlier version (no {CORPUS_FILE}); run ser-prepare "
            "(or python -m data_scripts.ravdess) again to rewrite it"
        )
    return None


def facts_of(record: dict | None) -> dict:
    """The record's facts, or empty facts for a dataset from elsewhere."""
    return (record or {}).get("facts") or {}


def load_saved_corpus(dataset_dir: str | Path) -> tuple[datasets.Dataset, dict | None]:
    """A saved dataset (a DatasetDict's splits put together) and its record (None: not ours)."""
    dataset = datasets.load_from_disk(str(dataset_dir))
    if isinstance(dataset, datasets.DatasetDict):
        dataset = datasets.concatenate_datasets(list(dataset.values()))
    return dataset, read_corpus_record(dataset_dir, dataset)


def safe_folder_name(text: str) -> str:
    """`text` as one folder name: letters, digits, `_`, `-` and `.` (anything else becomes `_`),
    no leading dot, so never a separator, a hidden name, `.` or `..` (a manifest called `...csv`
    once wrote its evaluation over a model's own card)."""
    return re.sub(r"[^\w.-]", "_", str(text)).lstrip(".") or "corpus"


def corpus_name(record: dict | None, dataset_dir: str | Path) -> str:
    """The corpus's recorded name (ravdess, crema_d, ...), else the folder's name, as a safe
    folder name."""
    return safe_folder_name(facts_of(record).get("name") or Path(dataset_dir).resolve().name)
