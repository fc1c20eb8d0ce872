"""Training on several prepared corpora at once (`--dataset_dir` given more than once): one label
space by name, speakers kept apart per corpus (`crema_d:1001`), files named `corpus/file`, and
the split made within each corpus (data_scripts.common.splits.split_each_corpus).

Only the columns every corpus has are kept: audio, label, speaker, gender, length, file, corpus.
The tables are put side by side without copying the audio.
"""

from __future__ import annotations

import json
from collections import Counter

import datasets
import numpy as np
import pyarrow as pa
from datasets.table import InMemoryTable

from data_scripts.common.arrow_cache import DECODING_LINE_PREFIX, recorded_decode_settings
from data_scripts.common.audio_hash import AUDIO_HASH_COLUMN, audio_sha256
from data_scripts.corpora.builder import corpus_features
from data_scripts.corpora.corpus_record import (
    RECORD_FORMAT,
    corpus_name,
    facts_of,
    load_saved_corpus,
)
from data_scripts.corpora.emotions import in_shared_order
from data_scripts.corpora.interface import CorpusFacts


def _common_columns(dataset: datasets.Dataset, name: str, label_names: list[str]) -> pa.Table:
    """The dataset's rows in the combined schema: labels renumbered by name, speakers and files
    prefixed with the corpus's name."""
    if dataset._indices is not None:
        dataset = dataset.flatten_indices(keep_in_memory=True)
    table = dataset.data.table
    own = dataset.features["label"].names
    renumber = np.array([label_names.index(label) for label in own], dtype=np.int64)
    speakers = [f"{name}:{s}" if s else "" for s in table.column("speaker").to_pylist()]
    columns = {
        "audio": table.column("audio"),
        "label": pa.array(renumber[table.column("label").to_numpy()]),
        "speaker": pa.array(speakers, pa.string()),
        "gender": table.column("gender").cast(pa.string()),
        "length": table.column("length").cast(pa.int64()),
        "file": pa.array([f"{name}/{f}" for f in table.column("file").to_pylist()], pa.string()),
        "corpus": pa.array([name] * len(table), pa.string()),
        AUDIO_HASH_COLUMN: _audio_hashes(table),
    }
    return pa.table(columns)


def _audio_hashes(table: pa.Table) -> pa.Array:
    """The prepared fingerprints, or computed here for data prepared before they existed."""
    if AUDIO_HASH_COLUMN in table.column_names:
        return table.column(AUDIO_HASH_COLUMN).cast(pa.string())
    arrays = table.column("audio").combine_chunks().field("array")
    return pa.array([audio_sha256(a.values.to_numpy()) for a in arrays], pa.string())


def combine_corpora(dataset_dirs: list[str]) -> tuple[datasets.Dataset, dict]:
    """One dataset of every corpus's rows and its record (the combined facts, every corpus's
    speakers prefixed); ValueError for two copies of one corpus or corpora decoded with
    different settings (their audio would not be alike)."""
    saved = [load_saved_corpus(d) for d in dataset_dirs]
    loaded = [dataset for dataset, _ in saved]
    names = [corpus_name(record, d) for (_, record), d in zip(saved, dataset_dirs, strict=True)]
    repeated = [name for name, count in Counter(names).items() if count > 1]
    if repeated:
        raise ValueError(f"--dataset_dir: the corpus {repeated[0]} is given twice")
    recorded = [recorded_decode_settings(d) for d in loaded]
    settings = {json.dumps(s.as_dict() if s else None, sort_keys=True) for s in recorded}
    if len(settings) > 1:
        raise ValueError(
            "--dataset_dir: the corpora were prepared with different audio decoding settings; "
            "prepare them again with the same ones"
        )
    label_names = list(
        in_shared_order({label for d in loaded for label in d.features["label"].names})
    )
    titles = [
        facts_of(record).get("title", name) for (_, record), name in zip(saved, names, strict=True)
    ]
    facts = CorpusFacts(
        name="+".join(names),
        title=" + ".join(titles),
        label_names=tuple(label_names),
        description=f"Combined corpora: {', '.join(titles)}.",
    )
    table = pa.concat_tables(
        [_common_columns(d, n, label_names) for d, n in zip(loaded, names, strict=True)]
    )
    shares = ", ".join(f"{n} {len(d)} files" for d, n in zip(loaded, names, strict=True))
    decoding = [
        line
        for line in (loaded[0].info.description or "").splitlines()
        if line.startswith(DECODING_LINE_PREFIX)
    ]
    summary = f"{facts.title}: {len(table)} files; {shares}."
    description = "\n".join([facts.description, summary, *decoding])
    info = datasets.DatasetInfo(description=description, features=corpus_features(facts))
    record = {
        "format": RECORD_FORMAT,
        "facts": facts.as_dict(),
        "speakers": {
            f"{name}:{speaker}": gender
            for (_, rec), name in zip(saved, names, strict=True)
            for speaker, gender in ((rec or {}).get("speakers") or {}).items()
        },
        "description": summary,
    }
    return datasets.Dataset(InMemoryTable(table), info=info), record
