"""RAVDESS behind the corpus interface: its facts (label order, fields, EmoBox's folds) and its
scan, so the one builder (data_scripts.corpora.builder) writes it like every other corpus.

The clips come from the extracted folders plus the mapping CSV (`data_dir`, written by the
download command) or from the two archives directly (`archive_dir`, members read in memory).
Labels keep RAVDESS's code order (neutral, calm, happy, ... surprised: id = code - 1), the order
every model trained on it has in its id2label. `speaker` is the actor as two digits ("01"); the
actor number, vocal channel, intensity, statement and repetition are RAVDESS's own columns.
"""

from __future__ import annotations

import logging
from pathlib import Path

from data_scripts.common.arrow_cache import FILES_PER_TABLE
from data_scripts.common.splits import split_corpus
from data_scripts.corpora.builder import build_corpus, corpus_features
from data_scripts.corpora.interface import CorpusFacts, CorpusFile, CorpusScan
from data_scripts.corpora.ravdess.counts import count_files, describe, shortfalls
from data_scripts.corpora.ravdess.facts import (
    ACTORS,
    ARCHIVE_BY_TYPE,
    EMOBOX_FILES,
    EMOBOX_METRIC_NAMES,
    EMOBOX_TEST_ACTORS,
    EMOBOX_VOCAL_CHANNEL,
    EMOTIONS,
    VOCAL_CHANNELS,
    actor_gender,
    expected_count,
    parse_file_name,
)
from data_scripts.corpora.ravdess.mapping import MAPPING_FILE_NAME
from data_scripts.corpora.ravdess.sources import (
    AudioSource,
    sources_from_archives,
    sources_from_data_dir,
)

logger = logging.getLogger(__name__)

CONFIG_CHANNELS = {"speech": ("speech",), "song": ("song",), "all": VOCAL_CHANNELS}
EMOBOX_VALIDATION = (
    "EmoBox ships no validation set (its recipe takes a random 20 % of the training files, "
    "which shares speakers with training). Here the validation speakers are a gender-balanced "
    "fifth of EmoBox's training speakers, picked by the split seed, speaker-disjoint from train "
    "and test; the model trains on the other training speakers' files."
)

CITATION = (
    "Livingstone SR, Russo FA (2018). The Ryerson Audio-Visual Database of Emotional Speech "
    "and Song (RAVDESS): A dynamic, multimodal set of facial and vocal expressions in North "
    "American English. PLoS ONE 13(5): e0196391. doi:10.1371/journal.pone.0196391"
)
BIBTEX = """@article{livingstone2018ravdess,
  title={The Ryerson Audio-Visual Database of Emotional Speech and Song (RAVDESS): A dynamic,
         multimodal set of facial and vocal expressions in North American English},
  author={Livingstone, Steven R. and Russo, Frank A.},
  journal={PLoS ONE}, volume={13}, number={5}, pages={e0196391}, year={2018},
  doi={10.1371/journal.pone.0196391}
}"""
LIMITS = """\
For research on speech emotion recognition and for comparing encoders. Not for decisions about
people: emotions here are acted, not felt.

- Acted emotion from 24 professional North American English actors reading two fixed
  sentences in a studio; expect much lower accuracy on spontaneous speech, other languages,
  accents, noisy or telephone audio, children or elderly voices.
- 24 speakers is a small population: numbers from a single speaker-independent split carry
  several points of uncertainty; cross-validation over speaker folds gives a fairer estimate.
- Compare with care. Random file-level splits (the same actor in training and test) give
  82-89 % accuracy on published model cards and in the original study; speaker-independent
  evaluations report much less, e.g. 68.3 % accuracy and macro-F1 0.676 for wav2vec2-base-960h
  (8 classes), and UAR 68.7 % from an ASR-fine-tuned wav2vec2-base versus 84.3 % from the
  pretrained one with per-speaker normalisation (Pepino et al. 2021, 7 classes).
  Accuracy and UAR are different numbers; both are reported above."""
TERMS = (
    "The weights were trained on RAVDESS, which is licensed under Creative Commons "
    "Attribution-NonCommercial-ShareAlike 4.0 (CC BY-NC-SA 4.0): non-commercial use, "
    "with attribution, and derivatives shared under the same license. Commercial "
    "licences are sold separately by the dataset's authors."
)

FACTS = CorpusFacts(
    name="ravdess",
    title="RAVDESS",
    label_names=EMOTIONS,
    field_names=("vocal_channel", "intensity", "statement", "repetition", "actor"),
    field_types=(("statement", "int32"), ("repetition", "int32"), ("actor", "int32")),
    breakdown_fields=("vocal_channel", "intensity"),
    expected_files=expected_count("speech") + expected_count("song"),
    expected_speakers=len(ACTORS),
    license="CC BY-NC-SA 4.0",
    citation=CITATION,
    homepage="https://zenodo.org/records/1188976",
    description="RAVDESS audio-only recordings (16-bit, 48 kHz, resampled for the model): 24 "
    "professional actors (12 male, 12 female) speaking or singing two neutral statements; labels "
    "from file names. Song has no disgust and no surprised recordings; actor 18 has no song.",
    limits=LIMITS,
    terms=TERMS,
    bibtex=BIBTEX,
    protocols={
        # EmoBox (Ma et al., Interspeech 2024): six speaker-independent folds over the 1440
        # speech files; its numbers are comparable only on those files of all 24 actors.
        "emobox": {
            "title": "EmoBox",
            "description": "EmoBox RAVDESS folds 1-6 (Ma et al., Interspeech 2024)",
            "comparable_note": "Comparable with EmoBox's RAVDESS table: its six folds, the 1440 "
            "speech files, 8 classes.",
            # EmoBox's metric names beside ours: UA is unweighted average recall, WA accuracy.
            "metric_names": dict(EMOBOX_METRIC_NAMES),
            "folds": {
                str(fold): [f"{a:02d}" for a in actors]
                for fold, actors in EMOBOX_TEST_ACTORS.items()
            },
            "column": "vocal_channel",
            "value": EMOBOX_VOCAL_CHANNEL,
            "files": dict(EMOBOX_FILES),
            "validation": EMOBOX_VALIDATION,
        }
    },
)


def speaker_of(actor: int) -> str:
    """The `speaker` value of an actor: two digits, so speakers sort as the actors do."""
    return f"{int(actor):02d}"


def clip_of(source: AudioSource) -> CorpusFile:
    """One clip's row facts, decoded from its file name."""
    name = parse_file_name(source.file)
    return CorpusFile(
        path=source.path,
        file=name.file_name,
        label=name.emotion,
        speaker=speaker_of(name.actor),
        gender=name.gender,
        fields=(
            ("vocal_channel", name.vocal_channel),
            ("intensity", name.intensity),
            ("statement", name.statement),
            ("repetition", name.repetition),
            ("actor", name.actor),
        ),
        member=source.member,
    )


def _balanced(files: list[CorpusFile]) -> list[CorpusFile]:
    """The builder's tables ordered even-first then odd, so that datasets' contiguous split of
    the tables over two workers gives each a mix of speech and (longer) song clips; the rows
    keep this order (the order RAVDESS's datasets have always had)."""
    batches = [files[i : i + FILES_PER_TABLE] for i in range(0, len(files), FILES_PER_TABLE)]
    return [clip for batch in batches[0::2] + batches[1::2] for clip in batch]


def scan(
    data_dir: str | Path | None = None, archive_dir: str | Path | None = None, config: str = "all"
) -> CorpusScan:
    """The chosen channels' clips of the extracted corpus (`data_dir`) or of its archives, and
    the actors of both channels (the speaker split's universe, whichever channel is built)."""
    if (data_dir is None) == (archive_dir is None):
        raise ValueError("give exactly one of data_dir (extracted + CSV) and archive_dir")
    if config not in CONFIG_CHANNELS:
        raise ValueError(f"config {config!r} is not one of {list(CONFIG_CHANNELS)}")
    if data_dir is not None:
        folder = Path(data_dir).resolve()
        every = sources_from_data_dir(folder, VOCAL_CHANNELS)
        extra = [folder / MAPPING_FILE_NAME]
    else:
        folder = Path(archive_dir).resolve()
        # The chosen channels' archives first (a damaged one is named before any other is
        # read); the other channel's, when it is there, only adds its actors to the universe.
        wanted = CONFIG_CHANNELS[config]
        others = tuple(
            c for c in VOCAL_CHANNELS
            if c not in wanted and (folder / ARCHIVE_BY_TYPE[c].file_name).is_file()
        )  # fmt: skip
        every = sources_from_archives(folder, wanted) + sources_from_archives(folder, others)
        extra = []
    channels = CONFIG_CHANNELS[config]
    chosen = [s for s in every if parse_file_name(s.file).vocal_channel in channels]
    if not chosen:
        raise ValueError(f"no {config} audio files in {folder}")
    names = [parse_file_name(source.file) for source in chosen]
    counts = count_files([(n.actor, n.vocal_channel) for n in names])
    for problem in shortfalls(counts, channels):
        logger.warning("PARTIAL CORPUS in %s: %s", folder, problem)
    actors = sorted({parse_file_name(source.file).actor for source in every})
    return CorpusScan(
        facts=FACTS,
        files=_balanced([clip_of(source) for source in chosen]),
        extra_inputs=extra,
        speakers={speaker_of(a): actor_gender(a) for a in actors},
        description=describe(counts, channels),
    )


def build_ravdess(
    data_dir: str | Path | None = None,
    archive_dir: str | Path | None = None,
    config: str = "all",
    cache_dir: str | Path | None = None,
    num_proc: int | None = None,
):
    """Every row of the chosen channels, built once into the datasets cache and reused after."""
    return build_corpus(scan(data_dir, archive_dir, config), cache_dir, num_proc)


# RAVDESS's rows as the builder writes them (the shared columns, then its own).
FEATURES = corpus_features(FACTS)


def load_ravdess(
    data_dir: str | Path | None = None,
    archive_dir: str | Path | None = None,
    config: str = "all",
    protocol: str = "speaker",
    seed: int = 0,
    fold: int = 0,
    num_folds: int = 6,
    cache_dir: str | Path | None = None,
):
    """(train/validation/test splits of the cached data, the split's parameters): see
    data_scripts.common.splits. The actors of both channels are split, so `speech`, `song` and
    `all` test the same speakers."""
    corpus = scan(data_dir, archive_dir, config)
    return split_corpus(
        build_corpus(corpus, cache_dir, None),
        protocol=protocol,
        seed=seed,
        fold=fold,
        num_folds=num_folds,
        speakers=corpus.speakers,
        protocols=FACTS.protocols,
    )
