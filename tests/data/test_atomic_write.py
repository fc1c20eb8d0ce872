"""data_scripts.common.atomic_write: a result file is replaced whole or not at all."""

from __future__ import annotations

import json

import pytest

from data_scripts.common.atomic_write import atomic_output, write_json_atomic, write_text_atomic


def test_write_json_replaces_the_file_and_leaves_nothing_else(tmp_path):
    path = tmp_path / "results" / "test_results.json"
    write_text_atomic(path, "old\n")
    write_json_atomic(path, {"b": 1, "a": [0.5]})
    assert path.read_text() == '{\n  "a": [\n    0.5\n  ],\n  "b": 1\n}\n'
    assert json.loads(path.read_text()) == {"a": [0.5], "b": 1}
    assert [p.name for p in path.parent.iterdir()] == ["test_results.json"]


def test_an_error_while_writing_keeps_the_previous_file(tmp_path):
    path = tmp_path / "predictions.csv"
    path.write_text("previous\n")
    with pytest.raises(RuntimeError, match="disk full"), atomic_output(path) as temporary:
        temporary.write_text("half a fi")
        raise RuntimeError("disk full")
    assert path.read_text() == "previous\n"
    assert [p.name for p in tmp_path.iterdir()] == ["predictions.csv"]


def test_a_value_json_cannot_hold_leaves_no_file(tmp_path):
    path = tmp_path / "run_info.json"
    with pytest.raises(TypeError):
        write_json_atomic(path, {"bad": object()})
    assert list(tmp_path.iterdir()) == []
