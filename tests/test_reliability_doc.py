"""docs/reliability.md: every test its fault table names exists."""

from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DOC = REPO / "docs" / "reliability.md"


def _test_names(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}


def test_every_test_named_in_the_fault_table_exists():
    rows = [line for line in DOC.read_text().splitlines() if line.startswith("| ")]
    cited = [cell for row in rows for cell in re.findall(r"tests/[\w/]+\.py(?:::\w+)?", row)]
    assert len(cited) > 50
    missing = []
    for reference in cited:
        file, _, name = reference.partition("::")
        if not (REPO / file).is_file() or (name and name not in _test_names(REPO / file)):
            missing.append(reference)
    assert missing == []


def test_every_table_row_names_a_test():
    rows = [line for line in DOC.read_text().splitlines() if line.startswith("| ")]
    body = [row for row in rows if not row.startswith(("| fault", "|---"))]
    assert body and all("tests/" in row.split("|")[-2] for row in body)
