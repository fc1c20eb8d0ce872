"""Any corpus as a `datasets` Arrow cache of 16 kHz mono audio: one schema for every kind.

Columns: `audio`, `label` (a ClassLabel with the corpus's names), `speaker`, `gender` ("" where
unknown), `length`, `file`, `corpus`, `audio_sha256` (training's leakage audit), then the
corpus's own fields as strings. The decoding,
batching, cache fingerprint and error reporting are RAVDESS's (data_scripts.common.arrow_cache):
the same decoder (`audio_decoding.decode_audio`), tables of a few dozen clips built column-wise,
and a cache keyed by the files' names, sizes and mtimes, their labels and the decode settings. The
description records the corpus's facts (name, breakdown fields, license) for training and cards.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass

import datasets
import numpy as np
import pyarrow as pa

from data_scripts.common.arrow_cache import (
    DECODING_LINE_PREFIX,
    FILES_PER_TABLE,
    default_num_proc,
    failure_message,
    input_fingerprint,
)
from data_scripts.common.audio_decoding import DEFAULT_SETTINGS, DecodeSettings, decode_audio
from data_scripts.common.audio_hash import AUDIO_HASH_COLUMN, audio_sha256
from data_scripts.common.orphans import children_die_with_me
from data_scripts.corpora.interface import CorpusFacts, CorpusFile, shortfalls

logger = logging.getLogger(__name__)

# Bumped whenever the rows this builder writes change for the same inputs and settings.
CACHE_FORMAT_VERSION = "1.1.0"  # 1.1.0: the audio_sha256 column
# The cache's folder name: datasets would take it from this module's file name, so it is fixed
# here (the name this module has always had) and moving the module keeps the caches.
DATASET_NAME = "builder"
# The line of the dataset's description that records the corpus's facts.
CORPUS_LINE_PREFIX = "corpus facts: "
COMMON_COLUMNS = ("speaker", "gender", "length", "file", "corpus")


def corpus_features(facts: CorpusFacts) -> datasets.Features:
    return datasets.Features(
        {
            "audio": {
                "array": datasets.List(datasets.Value("float32")),
                "sampling_rate": datasets.Value("int32"),
            },
            "label": datasets.ClassLabel(names=list(facts.label_names)),
            "speaker": datasets.Value("string"),
            "gender": datasets.Value("string"),
            "length": datasets.Value("int64"),
            "file": datasets.Value("string"),
            "corpus": datasets.Value("string"),
            AUDIO_HASH_COLUMN: datasets.Value("string"),
            **{name: datasets.Value("string") for name in facts.field_names},
        }
    )


def describe_files(facts: CorpusFacts, files: list[CorpusFile]) -> str:
    """Counts per label and speaker, and how the corpus falls short of the whole one."""
    labels = Counter(f.label for f in files)
    speakers = Counter(f.speaker for f in files if f.speaker)
    lines = [
        f"{facts.title}: {len(files)} files; per label "
        + ", ".join(f"{name}:{labels[name]}" for name in facts.label_names)
        + "."
    ]
    if speakers:
        lines.append(
            f"{len(speakers)} speakers: "
            + ", ".join(f"{s}:{n}" for s, n in sorted(speakers.items()))
            + "."
        )
    else:
        lines.append("No speakers known: splits are file-level, NOT speaker-independent.")
    problems = shortfalls(facts, files)
    if problems:
        lines.append(f"A subset or INCOMPLETE: {'; '.join(problems)}.")
    elif facts.expected_files is not None:
        lines.append(f"All {facts.expected_files} files of {facts.title}.")
    return " ".join(lines)


@dataclass
class CorpusConfig(datasets.BuilderConfig):
    decode_settings: DecodeSettings = DEFAULT_SETTINGS


class EmotionCorpus(datasets.ArrowBasedBuilder):
    """The rows of one scanned corpus (see data_scripts.corpora.registry.scan_corpus)."""

    BUILDER_CONFIG_CLASS = CorpusConfig
    VERSION = datasets.Version(CACHE_FORMAT_VERSION)

    def __init__(
        self, *args, facts: CorpusFacts, files: list[CorpusFile], extra_inputs=(), **kwargs
    ):
        if not files:
            raise ValueError(f"{facts.title}: no audio files")
        self.facts, self.files = facts, files
        self.corpus_description = describe_files(facts, files)
        for problem in shortfalls(facts, files):
            logger.warning("PARTIAL CORPUS %s: %s", facts.title, problem)
        settings = kwargs.get("decode_settings", DEFAULT_SETTINGS).as_dict()
        fingerprint = json.dumps(
            [
                CACHE_FORMAT_VERSION,
                settings,
                facts.as_dict(),
                [asdict(f) for f in files],
                input_fingerprint(files, list(extra_inputs)),
            ]
        )
        super().__init__(
            *args,
            dataset_name=DATASET_NAME,
            config_id=re.sub(r"[^\w.-]", "_", facts.name),
            hash=hashlib.sha256(fingerprint.encode()).hexdigest()[:16],
            **kwargs,
        )

    def _info(self) -> datasets.DatasetInfo:
        settings = self.config.decode_settings
        return datasets.DatasetInfo(
            description=(
                f"{self.facts.description} {settings.target_sampling_rate} Hz mono.\n"
                f"{self.corpus_description}\n"
                f"{CORPUS_LINE_PREFIX}{json.dumps(self.facts.as_dict(), sort_keys=True)}\n"
                f"{DECODING_LINE_PREFIX}{json.dumps(settings.as_dict(), sort_keys=True)}"
            ),
            features=corpus_features(self.facts),
            homepage=self.facts.homepage,
            license=self.facts.license,
            citation=self.facts.citation,
        )

    def _split_generators(self, dl_manager):
        batches = [
            self.files[i : i + FILES_PER_TABLE] for i in range(0, len(self.files), FILES_PER_TABLE)
        ]
        return [datasets.SplitGenerator(name=datasets.Split.TRAIN, gen_kwargs={"batches": batches})]

    def _generate_tables(self, batches: list[list[CorpusFile]]):
        """Tables in batch order; the next batch decodes on the thread pool meanwhile."""
        import torch  # only when decoding: a cached build never needs it

        previous_threads = torch.get_num_threads()
        torch.set_num_threads(1)
        settings = self.config.decode_settings
        pool = ThreadPoolExecutor(default_num_proc(), thread_name_prefix="decode")
        features = corpus_features(self.facts)

        def submit(batch):
            return [pool.submit(decode_audio, f.path, settings, f.path) for f in batch]

        try:
            pending = submit(batches[0]) if batches else []
            for index, batch in enumerate(batches):
                current = pending
                pending = submit(batches[index + 1]) if index + 1 < len(batches) else []
                waveforms = [future.result() for future in current]
                yield index, rows_table(self.facts, batch, waveforms, settings, features)
        finally:
            pool.shutdown(cancel_futures=True)
            torch.set_num_threads(previous_threads)


def rows_table(facts, files, waveforms, settings: DecodeSettings, features) -> pa.Table:
    """One Arrow table in the corpus's schema, built column-wise."""
    lengths = np.array([len(w) for w in waveforms], dtype=np.int64)
    offsets = pa.array(np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32))
    values = pa.array(np.concatenate(waveforms).astype(np.float32, copy=False))
    audio = pa.StructArray.from_arrays(
        [
            pa.ListArray.from_arrays(offsets, values),
            pa.array(np.full(len(files), settings.target_sampling_rate, dtype=np.int32)),
        ],
        names=["array", "sampling_rate"],
    )
    label_ids = {name: index for index, name in enumerate(facts.label_names)}
    columns = {
        "audio": audio,
        "label": pa.array([label_ids[f.label] for f in files], pa.int64()),
        "speaker": pa.array([f.speaker for f in files], pa.string()),
        "gender": pa.array([f.gender for f in files], pa.string()),
        "length": pa.array(lengths),
        "file": pa.array([f.file for f in files], pa.string()),
        "corpus": pa.array([facts.name] * len(files), pa.string()),
        AUDIO_HASH_COLUMN: pa.array([audio_sha256(w) for w in waveforms], pa.string()),
    }
    for name in facts.field_names:
        columns[name] = pa.array([dict(f.fields)[name] for f in files], pa.string())
    return pa.Table.from_arrays(list(columns.values()), schema=features.arrow_schema)


def build_corpus(
    facts: CorpusFacts,
    files: list[CorpusFile],
    extra_inputs=(),
    cache_dir=None,
) -> datasets.Dataset:
    """Every file's row, built once into the datasets cache and reused after. Decoding runs on
    threads in this process (soundfile and torch release the GIL)."""
    builder = EmotionCorpus(
        facts=facts,
        files=files,
        extra_inputs=extra_inputs,
        cache_dir=str(cache_dir) if cache_dir is not None else None,
    )
    try:
        with children_die_with_me():
            builder.download_and_prepare()
    except datasets.exceptions.DatasetGenerationError as error:
        raise ValueError(f"{facts.title} build failed: {failure_message(error)}") from error
    return builder.as_dataset(split="train")


def recorded_corpus_facts(dataset: datasets.Dataset) -> dict | None:
    """The corpus facts this builder recorded in the dataset's description, or None (RAVDESS's
    builder, or a dataset from elsewhere)."""
    for line in (dataset.info.description or "").splitlines():
        if line.startswith(CORPUS_LINE_PREFIX):
            return json.loads(line.removeprefix(CORPUS_LINE_PREFIX))
    return None
