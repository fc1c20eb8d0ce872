"""The label map: one CSV row per extracted RAVDESS file, every field of its name decoded.

`emotional_data_mappings.csv` keeps the original project's columns (audio_id, audio_name,
audio_path, audio_type, emotion) and adds the decoded fields, so that any tool can read labels
without knowing the naming scheme. Counts are compared with the corpus's known totals and every
difference is logged as a warning: a short download must not pass unnoticed.
"""

from __future__ import annotations

import csv
import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from data_scripts.common.atomic_write import atomic_output
from data_scripts.corpora.ravdess.archives import ACTOR_FOLDER_PATTERN
from data_scripts.corpora.ravdess.facts import (
    ACTORS,
    ARCHIVES,
    expected_count,
    file_names_for_actor,
    parse_file_name,
)

logger = logging.getLogger(__name__)

MAPPING_FILE_NAME = "emotional_data_mappings.csv"
CLASSIFICATION_FOLDER = "classification_data"
COLUMNS = (
    "audio_id",
    "audio_name",
    "audio_path",
    "audio_type",
    "emotion",
    "modality",
    "vocal_channel",
    "emotion_name",
    "intensity",
    "statement",
    "repetition",
    "actor",
    "gender",
)
INT_COLUMNS = ("audio_id", "emotion", "statement", "repetition", "actor")
# Missing file names listed per actor in a warning; the rest are counted.
MAX_NAMES_LISTED = 5


@dataclass
class MappingSummary:
    """What the map holds, what was left out, and how it differs from the full corpus."""

    csv_path: Path
    rows: int
    per_archive: dict[str, int]  # audio_type -> files
    per_actor: dict[str, dict[int, int]]  # audio_type -> actor -> files
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    differences: list[str] = field(default_factory=list)

    def format(self) -> str:
        """A few lines for a person: counts per archive and per actor, skips, differences."""
        lines = [f"Mapping: {self.csv_path} ({self.rows} files)"]
        for audio_type, count in self.per_archive.items():
            lines.append(f"  {audio_type}: {count} files (expected {expected_count(audio_type)})")
            actors = self.per_actor.get(audio_type, {})
            lines.append(
                "    per actor: " + ", ".join(f"{a:02d}:{n}" for a, n in sorted(actors.items()))
            )
        if self.skipped:
            lines.append(f"  left out: {len(self.skipped)} files whose names do not parse")
        if self.differences:
            lines.append(f"  differences from the full corpus: {len(self.differences)}")
            lines.extend(f"    {difference}" for difference in self.differences)
        return "\n".join(lines)


def _row_for(path: Path, data_dir: Path, audio_type: str) -> dict:
    """One CSV row for an extracted file; ValueError with the reason when it is not RAVDESS."""
    name = parse_file_name(path.name)
    if name.vocal_channel != audio_type:
        raise ValueError(f"a {name.vocal_channel} file among the {audio_type} files")
    folder_match = ACTOR_FOLDER_PATTERN.match(path.parent.name)
    if folder_match is None or int(folder_match.group(1)) != name.actor:
        raise ValueError(f"actor {name.actor:02d} does not match folder {path.parent.name}")
    return {
        "audio_name": name.file_name,
        "audio_path": path.relative_to(data_dir).as_posix(),
        "audio_type": audio_type,
        "emotion": name.emotion_code,
        "modality": name.modality,
        "vocal_channel": name.vocal_channel,
        "emotion_name": name.emotion,
        "intensity": name.intensity,
        "statement": name.statement,
        "repetition": name.repetition,
        "actor": name.actor,
        "gender": name.gender,
    }


def build_mapping_rows(data_dir: Path) -> tuple[list[dict], list[tuple[str, str]]]:
    """Rows for every file under `data_dir/classification_data`, speech first, then song.

    Returns (rows, skipped): a file whose name does not parse, or sits in the wrong folder, is
    logged with the reason and listed in `skipped` instead of getting a wrong label.
    """
    data_dir = Path(data_dir)
    rows, skipped = [], []
    for archive in ARCHIVES:
        folder = data_dir / CLASSIFICATION_FOLDER / archive.folder
        # Hidden files (the extraction marker) are bookkeeping, not audio.
        paths = sorted(p for p in folder.glob("*/*") if p.is_file() and not p.name.startswith("."))
        for path in paths:
            try:
                row = _row_for(path, data_dir, archive.audio_type)
            except ValueError as error:
                logger.warning("%s left out of the mapping: %s", path, error)
                skipped.append((str(path), str(error)))
                continue
            rows.append({"audio_id": len(rows), **row})
    return rows, skipped


def write_mapping(rows: list[dict], csv_path: Path) -> Path:
    """Write the CSV atomically, so a reader never sees half a map."""
    csv_path = Path(csv_path)
    with atomic_output(csv_path) as temporary, open(temporary, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS, extrasaction="raise")
        writer.writeheader()
        for row in rows:
            missing = [column for column in COLUMNS if column not in row]
            if missing:
                raise ValueError(f"{csv_path}: row {row} lacks columns {missing}")
            writer.writerow(row)
    return csv_path


def read_mapping(csv_path: Path) -> list[dict]:
    """The rows of a mapping CSV, with ints for the numeric columns."""
    csv_path = Path(csv_path)
    with open(csv_path, newline="") as handle:
        reader = csv.DictReader(handle)
        if tuple(reader.fieldnames or ()) != COLUMNS:
            raise ValueError(f"{csv_path}: columns {reader.fieldnames}, expected {list(COLUMNS)}")
        rows = []
        for line, row in enumerate(reader, start=2):
            try:
                rows.append({**row, **{column: int(row[column]) for column in INT_COLUMNS}})
            except (TypeError, ValueError) as error:
                raise ValueError(f"{csv_path}, line {line}: {error}") from error
    return rows


def count_rows(rows: list[dict]) -> tuple[dict[str, int], dict[str, dict[int, int]]]:
    """Files per archive and per (archive, actor)."""
    per_archive = {archive.audio_type: 0 for archive in ARCHIVES}
    per_actor: dict[str, Counter] = {archive.audio_type: Counter() for archive in ARCHIVES}
    for row in rows:
        per_archive[row["audio_type"]] += 1
        per_actor[row["audio_type"]][row["actor"]] += 1
    return per_archive, {kind: dict(sorted(c.items())) for kind, c in per_actor.items()}


def compare_with_expected(rows: list[dict]) -> list[str]:
    """One line per way the rows differ from the full corpus (1440 speech, 1012 song)."""
    differences = []
    per_archive, _ = count_rows(rows)
    for archive in ARCHIVES:
        kind = archive.audio_type
        expected = expected_count(kind)
        if per_archive[kind] != expected:
            differences.append(f"{kind}: {per_archive[kind]} files, expected {expected}")
        present = {(row["actor"], row["audio_name"]) for row in rows if row["audio_type"] == kind}
        absent_actors = []
        for actor in ACTORS:
            expected_names = set(file_names_for_actor(actor, kind))
            found = {name for a, name in present if a == actor}
            if expected_names and not found:
                absent_actors.append(actor)
                continue
            missing = sorted(expected_names - found)
            extra = sorted(found - expected_names)
            if missing:
                listed = ", ".join(missing[:MAX_NAMES_LISTED])
                unlisted = len(missing) - MAX_NAMES_LISTED
                more = f" and {unlisted} more" if unlisted > 0 else ""
                differences.append(
                    f"{kind} actor {actor:02d}: {len(found)} files, expected "
                    f"{len(expected_names)}; missing {listed}{more}"
                )
            if extra:
                differences.append(
                    f"{kind} actor {actor:02d}: {len(extra)} files not in RAVDESS "
                    f"(expected {len(expected_names)}): {', '.join(extra[:MAX_NAMES_LISTED])}"
                )
        if absent_actors:
            differences.append(
                f"{kind}: no files for actors {', '.join(f'{a:02d}' for a in absent_actors)}"
            )
    return differences


def map_emotion_data(data_dir: Path, csv_path: Path | None = None) -> MappingSummary:
    """Build and write the mapping for `data_dir`; warn about every difference from RAVDESS."""
    data_dir = Path(data_dir)
    csv_path = Path(csv_path) if csv_path is not None else data_dir / MAPPING_FILE_NAME
    rows, skipped = build_mapping_rows(data_dir)
    write_mapping(rows, csv_path)
    per_archive, per_actor = count_rows(rows)
    differences = compare_with_expected(rows)
    if skipped:
        logger.warning("%d files left out of the mapping (names that do not parse)", len(skipped))
    for difference in differences:
        logger.warning("COUNT MISMATCH: %s", difference)
    return MappingSummary(csv_path, len(rows), per_archive, per_actor, skipped, differences)
