"""What every corpus module gives the builder: its facts and its files, one record per clip.

A corpus module (ravdess_corpus, crema_d, tess, savee, emodb, folder, manifest) has a `FACTS`
(or builds one) and a `scan(...)` that lists `CorpusFile`s with labels already decoded from file
names, folders or rows. Labels are the shared English names (`emotions.SHARED_EMOTIONS`), so
corpora can be compared and combined by name; `label_names` fixes their id order (RAVDESS keeps
its own code order). docs/data.md says how to add a corpus.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

# Genders as RAVDESS spells them; "" where a corpus does not say.
GENDERS = ("male", "female")
UNKNOWN = ""


@dataclass(frozen=True)
class CorpusFile:
    """One clip: where it is, what it is called in tables, and what its name or row says."""

    path: str  # the audio file (absolute)
    file: str  # the name shown in tables: the path relative to the corpus folder
    label: str  # an English emotion name (or a manifest's own label)
    speaker: str = UNKNOWN
    gender: str = UNKNOWN
    fields: tuple[tuple[str, str | int], ...] = ()  # the corpus's own fields, FACTS' order
    member: str | None = None  # the member name when `path` is a zip archive holding the clip


@dataclass(frozen=True)
class CorpusFacts:
    """Facts about one corpus that the builder, the splits and the cards read."""

    name: str  # the --corpus value and the `corpus` column, e.g. "crema_d"
    title: str  # e.g. "CREMA-D"
    label_names: tuple[str, ...]  # the ClassLabel's names, in id order
    field_names: tuple[str, ...] = ()  # extra columns (e.g. CREMA-D's sentence, level)
    # Extra columns that are not strings, {name: datasets Value dtype} (RAVDESS's actor: int32).
    field_types: tuple[tuple[str, str], ...] = ()
    breakdown_fields: tuple[str, ...] = ()  # test metrics are also broken down by these
    expected_files: int | None = None  # the whole corpus
    expected_speakers: int | None = None
    license: str = "unknown: check the corpus's terms"
    citation: str = ""
    homepage: str = ""
    description: str = ""
    # The card's own words where a corpus has more to say than the generic sections: its limits
    # (markdown bullets), its license terms, and a BibTeX entry.
    limits: str = ""
    terms: str = ""
    bibtex: str = ""
    # Protocols of the corpus's own besides the shared ones (data_scripts.common.splits), e.g.
    # RAVDESS's EmoBox folds: {name: {"folds": {fold: [test speakers]}, ...}}.
    protocols: dict = field(default_factory=dict, compare=False)
    notes: list[str] = field(default_factory=list, compare=False)

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "title": self.title,
            "label_names": list(self.label_names),
            "field_names": list(self.field_names),
            "field_types": dict(self.field_types),
            "breakdown_fields": list(self.breakdown_fields),
            "expected_files": self.expected_files,
            "expected_speakers": self.expected_speakers,
            "license": self.license,
            "citation": self.citation,
            "homepage": self.homepage,
            "description": self.description,
            "limits": self.limits,
            "terms": self.terms,
            "bibtex": self.bibtex,
            "protocols": self.protocols,
        }


@dataclass(frozen=True)
class CorpusScan:
    """What scanning a corpus gives the builder: its facts, its files, the other files the build
    depends on (a CSV), every speaker of the whole corpus with their gender (the speaker split's
    universe, also when a build takes one vocal channel), and the description of what was found
    (None: the builder's own per-label and per-speaker counts)."""

    facts: CorpusFacts
    files: list[CorpusFile]
    extra_inputs: list[Path] = field(default_factory=list)
    speakers: dict[str, str] | None = None
    description: str | None = None


def shortfalls(facts: CorpusFacts, files: list[CorpusFile]) -> list[str]:
    """Lines saying how a found corpus falls short of the whole one (empty when complete or when
    the corpus has no expected counts: folders and manifests)."""
    problems = []
    if facts.expected_files is not None and len(files) < facts.expected_files:
        problems.append(f"{len(files)} files of the {facts.expected_files} {facts.title} holds")
    speakers = {f.speaker for f in files}
    if facts.expected_speakers is not None and len(speakers) < facts.expected_speakers:
        problems.append(f"{len(speakers)} speakers of {facts.expected_speakers}")
    return problems


AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg")


def audio_files(data_dir, extensions=AUDIO_EXTENSIONS) -> list[Path]:
    """Every audio file under `data_dir` (sorted, hidden files and folders skipped); a missing
    folder or one without audio is refused naming it."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise FileNotFoundError(f"--data_dir {data_dir}: no such folder")
    found = sorted(
        path
        for path in data_dir.rglob("*")
        if path.suffix.lower() in extensions
        and path.is_file()
        and not any(part.startswith(".") for part in path.relative_to(data_dir).parts)
    )
    if not found:
        raise ValueError(
            f"--data_dir {data_dir}: no audio files ({', '.join(extensions)}) in it or below it"
        )
    return found


def not_a_name_of(title: str, example: str, path) -> ValueError:
    """The refusal for a file whose name a corpus cannot decode: labels come from names."""
    return ValueError(
        f"{path}: not a {title} file name (expected names like {example}); move other files out "
        "of --data_dir, or use --corpus folder or --corpus manifest for your own layout"
    )
