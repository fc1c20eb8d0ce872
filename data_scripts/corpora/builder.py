"""Every corpus, RAVDESS included, as a `datasets` Arrow cache of 16 kHz mono audio: one builder,
one schema.

Columns: `audio`, `label` (a ClassLabel with the corpus's names, in its facts' order), `speaker`,
`gender` ("" where unknown), `length`, `file`, `corpus`, `audio_sha256` (the SHA-256 of the
decoded 16 kHz samples, for training's leakage audit), then the corpus's own fields (strings
unless its facts give a type: RAVDESS's `actor`, `statement` and `repetition` are int32). Clips
are decoded by `audio_decoding.decode_audio` (files on disk or zip members read in memory) into
tables of a few dozen clips built column-wise (datasets' per-example encoding of long float arrays
costs about 20 ms a clip), on threads in this process or on `num_proc` worker processes. The
cache is keyed by the files' names, sizes and mtimes, their labels, the corpus's facts and the
decode settings, so a second build with the same inputs decodes nothing and any change rebuilds.
A file that fails to decode stops the build naming it: a broken download must be fixed, not
trained around. The corpus's facts travel beside the saved dataset (corpus_record.py).
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import re
import zipfile
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
from data_scripts.common.extract import open_archive
from data_scripts.common.orphans import children_die_with_me
from data_scripts.corpora.interface import CorpusFacts, CorpusFile, CorpusScan, shortfalls
from data_scripts.corpora.ravdess.archives import stream_member

logger = logging.getLogger(__name__)

# Bumped whenever the rows this builder writes change for the same inputs and settings.
CACHE_FORMAT_VERSION = "2.1.0"  # 2.0.0: RAVDESS through this builder; 2.1.0: audio_sha256
# The cache's folder name: datasets would take it from this module's file name, so it is fixed
# here (the name this module has always had) and moving the module keeps the caches.
DATASET_NAME = "builder"
COMMON_COLUMNS = ("speaker", "gender", "length", "file", "corpus")


def corpus_features(facts: CorpusFacts) -> datasets.Features:
    types = dict(facts.field_types)
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
            **{name: datasets.Value(types.get(name, "string")) for name in facts.field_names},
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
    """The rows of one scanned corpus (data_scripts.corpora.registry.scan_corpus)."""

    BUILDER_CONFIG_CLASS = CorpusConfig
    VERSION = datasets.Version(CACHE_FORMAT_VERSION)

    def __init__(self, *args, scan: CorpusScan, **kwargs):
        facts, files = scan.facts, scan.files
        if not files:
            raise ValueError(f"{facts.title}: no audio files")
        self.facts, self.files = facts, files
        self.corpus_description = scan.description or describe_files(facts, files)
        if scan.description is None:  # a corpus that describes itself warns in its scan
            for problem in shortfalls(facts, files):
                logger.warning("PARTIAL CORPUS %s: %s", facts.title, problem)
        settings = kwargs.get("decode_settings", DEFAULT_SETTINGS).as_dict()
        fingerprint = json.dumps(
            [
                CACHE_FORMAT_VERSION,
                settings,
                facts.as_dict(),
                [asdict(f) for f in files],
                input_fingerprint(files, list(scan.extra_inputs)),
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
                f"{DECODING_LINE_PREFIX}{json.dumps(settings.as_dict(), sort_keys=True)}"
            ),
            features=corpus_features(self.facts),
            homepage=self.facts.homepage,
            license=self.facts.license,
            citation=self.facts.citation,
        )

    def _make_split_generators_kwargs(self, prepare_split_kwargs: dict) -> dict:
        return {"num_proc": prepare_split_kwargs.get("num_proc") or 1}

    def _split_generators(self, dl_manager, num_proc: int = 1):
        # One process decodes on every core with threads (soundfile and torch release the GIL);
        # worker processes decode on one thread each, so they do not fight over the cores.
        batches = [
            self.files[i : i + FILES_PER_TABLE] for i in range(0, len(self.files), FILES_PER_TABLE)
        ]
        threads = default_num_proc() if num_proc == 1 else 1
        return [
            datasets.SplitGenerator(
                name=datasets.Split.TRAIN,
                gen_kwargs={"batches": batches, "decode_threads": threads},
            )
        ]

    def _read(self, clip: CorpusFile, archives: dict[str, zipfile.ZipFile]) -> np.ndarray:
        settings = self.config.decode_settings
        if clip.member is None:
            return decode_audio(clip.path, settings, clip.path)
        where = f"{clip.path}:{clip.member}"
        try:
            archive = archives[clip.path]  # opened by _generate_tables
            data = io.BytesIO()
            # Streamed with a byte cap: a zip bomb must not fill the memory.
            stream_member(archive, archive.getinfo(clip.member), data)
            data.seek(0)
        except (OSError, zipfile.BadZipFile) as error:
            raise ValueError(f"{where}: cannot read the archive member: {error}") from error
        return decode_audio(data, settings, name=where)

    def _generate_tables(self, batches: list[list[CorpusFile]], decode_threads: int):
        """Tables in batch order; the next batch decodes on the thread pool meanwhile, each
        decode on one torch thread."""
        import torch  # only when decoding: a cached build never needs it

        previous_threads = torch.get_num_threads()
        torch.set_num_threads(1)
        settings = self.config.decode_settings
        archives: dict[str, zipfile.ZipFile] = {}
        pool = ThreadPoolExecutor(decode_threads, thread_name_prefix="decode")
        features = corpus_features(self.facts)

        def submit(batch):
            return [pool.submit(self._read, clip, archives) for clip in batch]

        try:
            # Opened before the threads start; reading one ZipFile from threads is safe.
            for path in sorted({c.path for batch in batches for c in batch if c.member}):
                archives[path] = open_archive(path)
            pending = submit(batches[0]) if batches else []
            for index, batch in enumerate(batches):
                current = pending
                pending = submit(batches[index + 1]) if index + 1 < len(batches) else []
                waveforms = [future.result() for future in current]
                yield index, rows_table(self.facts, batch, waveforms, settings, features)
        finally:
            pool.shutdown(cancel_futures=True)
            torch.set_num_threads(previous_threads)
            for archive in archives.values():
                archive.close()


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
        columns[name] = pa.array([dict(f.fields)[name] for f in files], features[name].pa_type)
    return pa.Table.from_arrays(list(columns.values()), schema=features.arrow_schema)


def build_corpus(scan: CorpusScan, cache_dir=None, num_proc: int | None = 1) -> datasets.Dataset:
    """Every file's row, built once into the datasets cache and reused after. `num_proc`: worker
    processes (None: one per core); with 1, decoding runs on threads in this process."""
    builder = EmotionCorpus(scan=scan, cache_dir=str(cache_dir) if cache_dir is not None else None)
    num_proc = min(num_proc or default_num_proc(), -(-len(scan.files) // FILES_PER_TABLE))
    try:
        with children_die_with_me():
            builder.download_and_prepare(num_proc=num_proc if num_proc > 1 else None)
    except datasets.exceptions.DatasetGenerationError as error:
        raise ValueError(f"{scan.facts.title} build failed: {failure_message(error)}") from error
    return builder.as_dataset(split="train")
