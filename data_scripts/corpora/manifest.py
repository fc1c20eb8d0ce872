"""Your own audio listed in a CSV: `path` and `label` columns, optional `speaker` and `gender`,
and any other columns (kept as string metadata).

Relative paths are resolved against the CSV's folder. Every row is checked before anything is
decoded; a bad row stops the build with one line naming the CSV, the line and the reason: a
missing or unreadable file, an empty or unknown label, a duplicate path, a path that leaves the
CSV's folder (through `..`, an absolute path or a link; allowed with --allow_outside), a gender
other than male/female, a speaker with two genders.
"""

from __future__ import annotations

import csv
from pathlib import Path

import soundfile as sf

from data_scripts.corpora.emotions import in_shared_order
from data_scripts.corpora.folder import label_of
from data_scripts.corpora.interface import UNKNOWN, CorpusFacts, CorpusFile

REQUIRED = ("path", "label")
# Columns every prepared dataset has; a manifest may not use them for its own metadata.
RESERVED = (
    "audio", "label", "speaker", "gender", "length", "file", "corpus", "audio_sha256", "path",
)  # fmt: skip
GENDER_SPELLINGS = {"male": "male", "m": "male", "female": "female", "f": "female", "": UNKNOWN}


def _read_rows(manifest: Path) -> tuple[list[str], list[dict]]:
    try:
        with open(manifest, newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            columns = [c.strip() for c in reader.fieldnames or ()]
            rows = [{k.strip(): (v or "").strip() for k, v in row.items() if k} for row in reader]
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise ValueError(f"--manifest {manifest}: cannot read the CSV ({error})") from error
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        raise ValueError(
            f"--manifest {manifest}: no {' and no '.join(missing)} column (found: "
            f"{', '.join(columns) or 'none'}); the first line must name the columns"
        )
    if not rows:
        raise ValueError(f"--manifest {manifest}: no rows below the header")
    return columns, rows


def _audio_path(base: Path, text: str, allow_outside: bool, where: str) -> Path:
    if not text:
        raise ValueError(f"{where}: empty path")
    path = (base / text).absolute()
    resolved = path.resolve()
    if not allow_outside and not resolved.is_relative_to(base.resolve()):
        raise ValueError(
            f"{where}: {text} leaves the manifest's folder {base} (through '..', an absolute "
            "path or a link); move the file inside it, or pass --allow_outside"
        )
    if not resolved.is_file():
        raise ValueError(f"{where}: {text}: no such file")
    try:
        sf.info(str(resolved))
    except (sf.LibsndfileError, RuntimeError) as error:
        raise ValueError(f"{where}: {text} is not audio that soundfile reads ({error})") from None
    return resolved


def scan(
    manifest: str | Path, labels: tuple[str, ...] = (), allow_outside: bool = False
) -> tuple[CorpusFacts, list[CorpusFile]]:
    manifest = Path(manifest).absolute()
    columns, rows = _read_rows(manifest)
    base = manifest.parent
    extra = tuple(c for c in columns if c not in RESERVED)
    files, seen, genders = [], {}, {}
    for line, row in enumerate(rows, start=2):
        where = f"{manifest}, line {line}"
        path = _audio_path(base, row["path"], allow_outside, where)
        if path in seen:
            raise ValueError(f"{where}: {row['path']} is the same file as line {seen[path]}")
        seen[path] = line
        gender_text = row.get("gender", "").lower()
        if gender_text not in GENDER_SPELLINGS:
            raise ValueError(f"{where}: gender {row['gender']!r}: give male, female or nothing")
        speaker, gender = row.get("speaker", ""), GENDER_SPELLINGS[gender_text]
        if speaker and gender:
            earlier = genders.setdefault(speaker, (gender, line))
            if earlier[0] != gender:
                raise ValueError(
                    f"{where}: speaker {speaker} is {gender} here but {earlier[0]} on line "
                    f"{earlier[1]}; a speaker has one gender"
                )
        files.append(
            CorpusFile(
                path=str(path),
                file=row["path"],
                label=label_of(row["label"], labels, where),
                speaker=speaker,
                gender=gender,
                fields=tuple((name, row.get(name, "")) for name in extra),
            )
        )
    facts = CorpusFacts(
        name=manifest.stem,
        title=f"manifest {manifest.name}",
        label_names=in_shared_order(f.label for f in files),
        field_names=extra,
        description=f"Audio listed in {manifest}.",
    )
    return facts, files


def extra_inputs(manifest) -> list[Path]:
    return [Path(manifest).absolute()]
