"""Continuous targets (arousal, valence, dominance, or any names) read from table rows.

`--target_columns arousal,valence` names columns of a manifest (or of a folder's targets CSV)
that hold one number per clip. They become float32 columns of the prepared dataset, and their
range (min, max) goes into corpus.json's facts (`targets`), so a model trained on them can say
what scale its outputs are on. A row with a missing or non-numeric value is refused by its line
number; a target with one value on every row is refused by name (nothing to learn, and the
training split's standard deviation would be 0).
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

# The columns' type in the prepared dataset (datasets' Value dtype).
TARGET_DTYPE = "float32"


def parse_target_columns(text: str | None) -> tuple[str, ...]:
    """The names in `--target_columns a,b,c` (empty: none); refuses an empty or repeated name."""
    if not text:
        return ()
    names = tuple(name.strip() for name in text.split(","))
    if any(not name for name in names):
        raise ValueError(f"--target_columns {text!r}: an empty name; give names like a,b,c")
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(f"--target_columns {text!r}: {', '.join(repeated)} named twice")
    return names


def read_table(path: Path, flag: str) -> tuple[list[str], list[dict]]:
    """The header and the rows (values stripped) of a CSV; one line naming `flag` if unreadable."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            columns = [c.strip() for c in reader.fieldnames or ()]
            rows = [{k.strip(): (v or "").strip() for k, v in row.items() if k} for row in reader]
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise ValueError(f"{flag} {path}: cannot read the CSV ({error})") from error
    return columns, rows


def check_target_columns(names: tuple[str, ...], columns: list[str], source: str) -> None:
    """Refuse target names the table's header lacks, naming them and the columns it has."""
    missing = [name for name in names if name not in columns]
    if missing:
        raise ValueError(
            f"{source}: no {', '.join(missing)} column for --target_columns (found: "
            f"{', '.join(columns) or 'none'})"
        )


def target_values(row: dict, names: tuple[str, ...], where: str) -> tuple[tuple[str, float], ...]:
    """(name, value) of each target in one row; a missing or non-numeric value is refused."""
    values = []
    for name in names:
        text = (row.get(name) or "").strip()
        if not text:
            raise ValueError(f"{where}: no {name} value; give every row a number for each target")
        try:
            value = float(text)
        except ValueError:
            raise ValueError(f"{where}: {name} {text!r} is not a number") from None
        if not math.isfinite(value):
            raise ValueError(f"{where}: {name} {text!r} is not a finite number")
        values.append((name, value))
    return tuple(values)


def target_ranges(
    names: tuple[str, ...], rows: list[tuple[tuple[str, float], ...]], source: str
) -> tuple[tuple[str, float, float], ...]:
    """(name, min, max) of each target over every row; a constant target is refused by name."""
    ranges = []
    for index, name in enumerate(names):
        column = [row[index][1] for row in rows]
        low, high = min(column), max(column)
        if low == high:
            raise ValueError(
                f"{source}: target {name} is {low:g} on every row; a constant target cannot be "
                "learned: leave it out of --target_columns"
            )
        ranges.append((name, low, high))
    return tuple(ranges)
