"""The --corpus values and what each one scans: a named corpus's folder, your label folders, or
your manifest. Every kind returns the same three things: facts, files, extra inputs."""

from __future__ import annotations

from pathlib import Path

from data_scripts.corpora import crema_d, emodb, folder, manifest, savee, tess
from data_scripts.corpora.interface import CorpusFacts, CorpusFile

NAMED_CORPORA = {module.FACTS.name: module for module in (crema_d, tess, savee, emodb)}
CORPUS_CHOICES = ("ravdess", *NAMED_CORPORA, "folder", "manifest")


def scan_corpus(
    corpus: str,
    data_dir: str | Path | None = None,
    manifest_path: str | Path | None = None,
    speaker_pattern: str | None = None,
    labels: tuple[str, ...] = (),
    allow_outside: bool = False,
) -> tuple[CorpusFacts, list[CorpusFile], list[Path]]:
    """(facts, files, files besides the audio the build depends on) of one corpus (not RAVDESS,
    which has its own builder)."""
    if corpus == "manifest":
        facts, files = manifest.scan(manifest_path, labels, allow_outside)
        return facts, files, manifest.extra_inputs(manifest_path)
    if corpus == "folder":
        facts, files = folder.scan(data_dir, speaker_pattern, labels)
        return facts, files, []
    if corpus not in NAMED_CORPORA:
        raise ValueError(f"--corpus {corpus!r} is not one of {', '.join(CORPUS_CHOICES)}")
    module = NAMED_CORPORA[corpus]
    return module.FACTS, module.scan(data_dir), module.extra_inputs(data_dir)
