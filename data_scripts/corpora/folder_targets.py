"""Label folders with continuous targets: `--corpus folder --target_columns a,b --targets_file
ratings.csv`, where the CSV has a `path` column (relative to --data_dir) and the named columns.

Every audio file of the folder needs one row, and every row one file, or the build is refused
naming the file or the CSV's line; values are checked as a manifest's are (targets.py).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from data_scripts.corpora import folder
from data_scripts.corpora.interface import CorpusScan
from data_scripts.corpora.targets import (
    TARGET_DTYPE,
    check_target_columns,
    read_table,
    target_ranges,
    target_values,
)


def _rows_by_path(targets_file: Path, names: tuple[str, ...]) -> dict[str, tuple[int, dict]]:
    columns, rows = read_table(targets_file, "--targets_file")
    check_target_columns(("path", *names), columns, f"--targets_file {targets_file}")
    found: dict[str, tuple[int, dict]] = {}
    for line, row in enumerate(rows, start=2):
        key = Path(row["path"]).as_posix()
        if key in found:
            raise ValueError(
                f"--targets_file {targets_file}, line {line}: {row['path']} is also on line "
                f"{found[key][0]}"
            )
        found[key] = (line, row)
    return found


def scan(
    data_dir,
    speaker_pattern: str | None,
    labels: tuple[str, ...],
    names: tuple[str, ...],
    targets_file,
) -> CorpusScan:
    """The label folders' scan with each file's targets from the CSV."""
    if not names or not targets_file:
        raise ValueError("--corpus folder: give --target_columns and --targets_file together")
    targets_file = Path(targets_file).absolute()
    facts, files = folder.scan(data_dir, speaker_pattern, labels)
    rows = _rows_by_path(targets_file, names)
    values, with_targets = [], []
    for clip in files:
        key = Path(clip.file).as_posix()
        if key not in rows:
            raise ValueError(f"{clip.path}: no row in --targets_file {targets_file}")
        line, row = rows.pop(key)
        values.append(target_values(row, names, f"--targets_file {targets_file}, line {line}"))
        with_targets.append(replace(clip, fields=clip.fields + values[-1]))
    if rows:
        line, row = min(rows.values(), key=lambda item: item[0])
        raise ValueError(
            f"--targets_file {targets_file}, line {line}: {row['path']}: no such audio file "
            f"under {data_dir}"
        )
    facts = replace(
        facts,
        field_names=facts.field_names + names,
        field_types=facts.field_types + tuple((name, TARGET_DTYPE) for name in names),
        target_ranges=target_ranges(names, values, f"--targets_file {targets_file}"),
    )
    return CorpusScan(facts, with_targets, [targets_file])
