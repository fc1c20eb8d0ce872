"""RAVDESS as a `datasets` Arrow cache of 16 kHz mono audio, with its splits (`load_ravdess`).

The builder reads either the extracted folders plus the mapping CSV (`data_dir`, written by
the download command, data_scripts.corpora.ravdess.download) or the two archives directly
(`archive_dir`, members read in memory). It decodes with `data_scripts.common.audio_decoding`
(soundfile, channel average, torchaudio) and writes Arrow tables of a few dozen clips at a time:
datasets' per-example encoding of long float arrays costs about 20 ms a clip, batches avoid it,
and bounded tables keep memory flat.

The cache directory carries a fingerprint of the inputs (file names, sizes and mtimes; the CSV's
hash) and of the decode settings, so a second build with the same inputs is a cache hit that
decodes nothing, and any change rebuilds. A file that fails to decode stops the build with an
error naming it: a broken download must be fixed, not trained around. The prepare command
(`python -m data_scripts.ravdess`, `ravdess-prepare`) is data_scripts.corpora.ravdess.prepare.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import zipfile
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

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
from data_scripts.corpora.ravdess.archives import stream_member
from data_scripts.corpora.ravdess.counts import count_files, describe, shortfalls
from data_scripts.corpora.ravdess.facts import EMOTIONS, VOCAL_CHANNELS, parse_file_name
from data_scripts.corpora.ravdess.mapping import MAPPING_FILE_NAME
from data_scripts.corpora.ravdess.sources import (
    AudioSource,
    sources_from_archives,
    sources_from_data_dir,
)
from data_scripts.corpora.ravdess.splits import split_dataset

logger = logging.getLogger(__name__)

# Bumped whenever the rows this builder writes change for the same inputs and settings.
# 1.0.1: shared resampling lengths (last-bit changes at some rates); 1.1.0: audio_sha256
CACHE_FORMAT_VERSION = "1.1.0"
# The cache's folder name: datasets would take it from this module's file name, so it is fixed
# here (the name the module had before it moved) and moving the module keeps the caches.
DATASET_NAME = "ravdess"

FEATURES = datasets.Features(
    {
        "audio": {
            "array": datasets.List(datasets.Value("float32")),
            "sampling_rate": datasets.Value("int32"),
        },
        "label": datasets.ClassLabel(names=list(EMOTIONS)),
        "vocal_channel": datasets.Value("string"),
        "intensity": datasets.Value("string"),
        "statement": datasets.Value("int32"),
        "repetition": datasets.Value("int32"),
        "actor": datasets.Value("int32"),
        "gender": datasets.Value("string"),
        "length": datasets.Value("int64"),
        "file": datasets.Value("string"),
        AUDIO_HASH_COLUMN: datasets.Value("string"),
    }
)
CONFIG_CHANNELS = {"speech": ("speech",), "song": ("song",), "all": VOCAL_CHANNELS}


@dataclass
class RavdessConfig(datasets.BuilderConfig):
    """One vocal-channel selection, where the audio comes from, and how it is decoded (the decode
    settings are part of the cache fingerprint)."""

    archive_dir: str | None = None
    decode_settings: DecodeSettings = DEFAULT_SETTINGS


def _balanced_batches(sources: list[AudioSource], batch_size: int) -> list[list[AudioSource]]:
    """Batches ordered even-first then odd, so that datasets' contiguous split of the batch list
    over two workers gives each a mix of speech and (longer) song clips."""
    batches = [sources[i : i + batch_size] for i in range(0, len(sources), batch_size)]
    return batches[0::2] + batches[1::2]


class Ravdess(datasets.ArrowBasedBuilder):
    """RAVDESS speech and song as rows of 16 kHz mono float32 audio with decoded labels."""

    BUILDER_CONFIG_CLASS = RavdessConfig
    BUILDER_CONFIGS = [
        RavdessConfig(
            name=name,
            version=CACHE_FORMAT_VERSION,
            description=f"RAVDESS {name}",
        )
        for name in CONFIG_CHANNELS
    ]
    DEFAULT_CONFIG_NAME = "all"
    VERSION = datasets.Version(CACHE_FORMAT_VERSION)

    def __init__(
        self,
        *args,
        config_name: str = "all",
        data_dir: str | None = None,
        archive_dir: str | None = None,
        **kwargs,
    ):
        if (data_dir is None) == (archive_dir is None):
            raise ValueError("give exactly one of data_dir (extracted + CSV) and archive_dir")
        if config_name not in CONFIG_CHANNELS:
            raise ValueError(f"config {config_name!r} is not one of {list(CONFIG_CHANNELS)}")
        channels = CONFIG_CHANNELS[config_name]
        if data_dir is not None:
            data_dir = str(Path(data_dir).resolve())
            self.sources = sources_from_data_dir(Path(data_dir), channels)
            extra_files = [Path(data_dir) / MAPPING_FILE_NAME]
        else:
            archive_dir = str(Path(archive_dir).resolve())
            self.sources = sources_from_archives(Path(archive_dir), channels)
            extra_files = []
        if not self.sources:
            raise ValueError(f"no {config_name} audio files in {data_dir or archive_dir}")
        names = [parse_file_name(source.file) for source in self.sources]
        self.file_counts = count_files([(n.actor, n.vocal_channel) for n in names])
        for problem in shortfalls(self.file_counts, channels):
            logger.warning("PARTIAL CORPUS in %s: %s", data_dir or archive_dir, problem)
        self.corpus_description = describe(self.file_counts, channels)
        settings = kwargs.get("decode_settings", DEFAULT_SETTINGS).as_dict()
        fingerprint = json.dumps(
            [CACHE_FORMAT_VERSION, settings, input_fingerprint(self.sources, extra_files)]
        )
        # Cache folder: ravdess/<config>-<source kind>/<version>/<fingerprint>, so that equal
        # inputs and settings share it however the settings were spelled.
        super().__init__(
            *args,
            config_name=config_name,
            data_dir=data_dir,
            archive_dir=archive_dir,
            dataset_name=DATASET_NAME,
            config_id=f"{config_name}-{'extracted' if data_dir else 'archives'}",
            hash=hashlib.sha256(fingerprint.encode()).hexdigest()[:16],
            **kwargs,
        )

    def _info(self) -> datasets.DatasetInfo:
        settings = self.config.decode_settings
        return datasets.DatasetInfo(
            description=(
                f"RAVDESS audio-only speech and song, {settings.target_sampling_rate} Hz mono, "
                "labels from file names.\n"
                f"{self.corpus_description}\n"
                f"{DECODING_LINE_PREFIX}{json.dumps(settings.as_dict(), sort_keys=True)}"
            ),
            features=FEATURES,
            homepage="https://zenodo.org/records/1188976",
            license="CC BY-NC-SA 4.0",
            citation="Livingstone SR, Russo FA (2018). PLoS ONE 13(5): e0196391.",
        )

    def _make_split_generators_kwargs(self, prepare_split_kwargs: dict) -> dict:
        return {"num_proc": prepare_split_kwargs.get("num_proc") or 1}

    def _split_generators(self, dl_manager, num_proc: int = 1):
        # One process decodes on every core with threads (soundfile and torch release the GIL);
        # worker processes decode on one thread each, so they do not fight over the cores.
        decode_threads = default_num_proc() if num_proc == 1 else 1
        return [
            datasets.SplitGenerator(
                name=datasets.Split.TRAIN,
                gen_kwargs={
                    "batches": _balanced_batches(self.sources, FILES_PER_TABLE),
                    "decode_threads": decode_threads,
                },
            )
        ]

    def _read(self, source: AudioSource, archives: dict[str, zipfile.ZipFile]) -> np.ndarray:
        settings = self.config.decode_settings
        if source.member is None:
            return decode_audio(source.path, settings)
        where = f"{source.path}:{source.member}"
        try:
            archive = archives[source.path]  # opened by _generate_tables
            data = io.BytesIO()
            # Streamed with a byte cap: a zip bomb must not fill the memory.
            stream_member(archive, archive.getinfo(source.member), data)
            data.seek(0)
        except (OSError, zipfile.BadZipFile) as error:
            raise ValueError(f"{where}: cannot read the archive member: {error}") from error
        return decode_audio(data, settings, name=where)

    def _generate_tables(self, batches: list[list[AudioSource]], decode_threads: int):
        """Tables in batch order; the next batch is decoded by the thread pool while datasets
        writes the current one. Each decode runs on one torch thread."""
        import torch  # only when decoding: a cached build never needs it

        previous_threads = torch.get_num_threads()
        torch.set_num_threads(1)
        archives: dict[str, zipfile.ZipFile] = {}
        rate = self.config.decode_settings.target_sampling_rate
        pool = ThreadPoolExecutor(decode_threads, thread_name_prefix="decode")

        def submit(batch: list[AudioSource]) -> list[Future]:
            return [pool.submit(self._read, source, archives) for source in batch]

        try:
            # Opened before the threads start; reading one ZipFile from threads is safe.
            for path in sorted({s.path for batch in batches for s in batch if s.member}):
                archives[path] = open_archive(path)
            pending = submit(batches[0]) if batches else []
            for index, batch in enumerate(batches):
                current = pending
                pending = submit(batches[index + 1]) if index + 1 < len(batches) else []
                waveforms = [future.result() for future in current]
                yield index, rows_table(batch, waveforms, rate)
        finally:
            pool.shutdown(cancel_futures=True)
            torch.set_num_threads(previous_threads)
            for archive in archives.values():
                archive.close()


def rows_table(
    sources: list[AudioSource], waveforms: list[np.ndarray], sampling_rate: int
) -> pa.Table:
    """One Arrow table in FEATURES' schema, built column-wise (no per-example encoding)."""
    names = [parse_file_name(source.file) for source in sources]
    lengths = np.array([len(w) for w in waveforms], dtype=np.int64)
    offsets = pa.array(np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32))
    values = pa.array(np.concatenate(waveforms).astype(np.float32, copy=False))
    audio = pa.StructArray.from_arrays(
        [
            pa.ListArray.from_arrays(offsets, values),
            pa.array(np.full(len(sources), sampling_rate, dtype=np.int32)),
        ],
        names=["array", "sampling_rate"],
    )
    columns = {
        "audio": audio,
        "label": pa.array([n.emotion_code - 1 for n in names], pa.int64()),
        "vocal_channel": pa.array([n.vocal_channel for n in names]),
        "intensity": pa.array([n.intensity for n in names]),
        "statement": pa.array([n.statement for n in names], pa.int32()),
        "repetition": pa.array([n.repetition for n in names], pa.int32()),
        "actor": pa.array([n.actor for n in names], pa.int32()),
        "gender": pa.array([n.gender for n in names]),
        "length": pa.array(lengths),
        "file": pa.array([n.file_name for n in names]),
        AUDIO_HASH_COLUMN: pa.array([audio_sha256(w) for w in waveforms]),
    }
    return pa.Table.from_arrays(list(columns.values()), schema=FEATURES.arrow_schema)


def build_ravdess(
    data_dir: str | Path | None = None,
    archive_dir: str | Path | None = None,
    config: str = "all",
    cache_dir: str | Path | None = None,
    num_proc: int | None = None,
) -> datasets.Dataset:
    """Every row of the chosen channels, built once into the datasets cache and reused after."""
    builder = Ravdess(
        config_name=config,
        data_dir=str(data_dir) if data_dir is not None else None,
        archive_dir=str(archive_dir) if archive_dir is not None else None,
        cache_dir=str(cache_dir) if cache_dir is not None else None,
    )
    num_proc = num_proc or default_num_proc()
    num_proc = min(num_proc, -(-len(builder.sources) // FILES_PER_TABLE))
    try:
        with children_die_with_me():
            builder.download_and_prepare(num_proc=num_proc if num_proc > 1 else None)
    except datasets.exceptions.DatasetGenerationError as error:
        raise ValueError(f"RAVDESS build failed: {failure_message(error)}") from error
    return builder.as_dataset(split="train")


def load_ravdess(
    data_dir: str | Path | None = None,
    archive_dir: str | Path | None = None,
    config: str = "all",
    protocol: str = "speaker",
    seed: int = 0,
    fold: int = 0,
    num_folds: int = 6,
    cache_dir: str | Path | None = None,
) -> datasets.DatasetDict:
    """Train/validation/test splits of the cached data (see data_scripts.corpora.ravdess.splits).

    The actors of both channels are split, so `speech`, `song` and `all` test the same speakers.
    """
    dataset = build_ravdess(data_dir, archive_dir, config, cache_dir)
    if data_dir is not None:
        sources = sources_from_data_dir(Path(data_dir), VOCAL_CHANNELS)
    else:
        sources = sources_from_archives(Path(archive_dir), VOCAL_CHANNELS)
    actors = sorted({parse_file_name(source.file).actor for source in sources})
    return split_dataset(
        dataset, protocol=protocol, seed=seed, fold=fold, num_folds=num_folds, actors=actors
    )
