"""The --corpus values and what each one scans: a named corpus's folder (or RAVDESS's archives),
your label folders, or your manifest. Every kind returns the same `CorpusScan`."""

from __future__ import annotations

from pathlib import Path

from data_scripts.corpora import crema_d, emodb, folder, manifest, ravdess_corpus, savee, tess
from data_scripts.corpora.interface import CorpusScan

NAMED_CORPORA = {module.FACTS.name: module for module in (crema_d, tess, savee, emodb)}
CORPUS_CHOICES = ("ravdess", *NAMED_CORPORA, "folder", "manifest")
# The corpus a download folder (--data_dir of training, written by the download command) holds,
# and its label order: a classifier's default classes.
DOWNLOAD_CORPUS = "ravdess"
DOWNLOAD_FACTS = ravdess_corpus.FACTS
DOWNLOAD_LABELS = DOWNLOAD_FACTS.label_names
# The table of files the download command writes into its folder (emotional_data_mappings.csv).
DOWNLOAD_INDEX = ravdess_corpus.MAPPING_FILE_NAME


def scan_corpus(
    corpus: str,
    data_dir: str | Path | None = None,
    manifest_path: str | Path | None = None,
    speaker_pattern: str | None = None,
    labels: tuple[str, ...] = (),
    allow_outside: bool = False,
    archive_dir: str | Path | None = None,
    config: str = "all",
) -> CorpusScan:
    """The facts, files and other inputs of one corpus, for the builder."""
    if corpus == "ravdess":
        return ravdess_corpus.scan(data_dir, archive_dir, config)
    if corpus == "manifest":
        facts, files = manifest.scan(manifest_path, labels, allow_outside)
        return CorpusScan(facts, files, manifest.extra_inputs(manifest_path))
    if corpus == "folder":
        return CorpusScan(*folder.scan(data_dir, speaker_pattern, labels))
    if corpus not in NAMED_CORPORA:
        raise ValueError(f"--corpus {corpus!r} is not one of {', '.join(CORPUS_CHOICES)}")
    module = NAMED_CORPORA[corpus]
    return CorpusScan(module.FACTS, module.scan(data_dir), module.extra_inputs(data_dir))
