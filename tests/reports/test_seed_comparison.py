"""Comparing two code versions over seeds: the detectable difference and Welch's interval,
against values worked out by hand from printed t tables."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from training.reports.seed_comparison import compare_seed_scores, detectable_difference

REPO = Path(__file__).resolve().parents[2]


def test_detectable_difference_matches_the_t_table():
    # t(0.975, 4) = 2.776 and t(0.80, 4) = 0.941 (printed tables): 3 seeds each, std 0.071.
    expected = (2.776 + 0.941) * 0.071 * math.sqrt(2 / 3)
    assert detectable_difference(0.071, 3) == pytest.approx(expected, rel=1e-3)
    # 5 seeds: t(0.975, 8) = 2.306, t(0.80, 8) = 0.889.
    assert detectable_difference(0.05, 5) == pytest.approx(
        (2.306 + 0.889) * 0.05 * math.sqrt(2 / 5), rel=1e-3
    )


def test_one_seed_has_no_detectable_difference():
    assert detectable_difference(0.1, 1) is None


def test_welch_on_two_seeds_each_matches_the_closed_form():
    # Equal variances 0.02, two seeds each: Welch's freedom is 2, t = 0.1 / sqrt(0.02) and the
    # t(2) distribution's two-sided p is 1 - t / sqrt(2 + t^2); t(0.975, 2) = 4.303.
    result = compare_seed_scores([0.5, 0.7], [0.6, 0.8])
    t = 0.1 / math.sqrt(0.02)
    assert result["difference"] == pytest.approx(0.1)
    assert result["p_value"] == pytest.approx(1 - t / math.sqrt(2 + t * t), rel=1e-6)
    assert result["low"] == pytest.approx(0.1 - 4.303 * math.sqrt(0.02), abs=1e-3)
    assert result["high"] == pytest.approx(0.1 + 4.303 * math.sqrt(0.02), abs=1e-3)


def test_a_clear_drop_is_an_interval_below_zero():
    # std 0.01 each over 3 seeds: standard error sqrt(2 * 0.0001 / 3), freedom 4, t(0.975, 4).
    result = compare_seed_scores([0.60, 0.61, 0.62], [0.50, 0.51, 0.52])
    half = 2.776 * math.sqrt(2 * 0.0001 / 3)
    assert result["difference"] == pytest.approx(-0.1)
    assert result["low"] == pytest.approx(-0.1 - half, abs=1e-4)
    assert result["high"] == pytest.approx(-0.1 + half, abs=1e-4)
    assert result["p_value"] < 0.001


def test_fewer_than_two_seeds_is_refused():
    with pytest.raises(ValueError, match="two seeds"):
        compare_seed_scores([0.5], [0.6, 0.7])


def _bench_result(path: Path, commit: str, accuracies: list[float], **settings) -> Path:
    runs = [
        {"seed": seed, "accuracy": accuracy, "uar": accuracy, "macro_f1": accuracy}
        for seed, accuracy in enumerate(accuracies)
    ]
    result = {"commit": commit, "epochs": 1, "extra": "", "voices": "hard", "runs": runs}
    path.write_text(json.dumps({**result, **settings}))
    return path


def _compare(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(REPO / "bench" / "compare_learning.py"), *args],
        capture_output=True, text=True,
    )  # fmt: skip


def test_compare_learning_reports_a_drop_with_its_interval(tmp_path):
    old = _bench_result(tmp_path / "old.json", "old", [0.60, 0.61, 0.62])
    new = _bench_result(tmp_path / "new.json", "new", [0.50, 0.51, 0.52])
    done = _compare("--a", str(old), "--b", str(new))
    assert done.returncode == 0, done.stderr
    assert "new - old: -0.100 [-0.123, -0.077]" in done.stdout
    assert "new scores lower than old" in done.stdout


def test_compare_learning_pools_seeds_run_one_at_a_time(tmp_path):
    # Seeds 0 and 1 of the old version in two files: the same answer as one file of both.
    first = _bench_result(tmp_path / "old0.json", "old", [0.60])
    second = json.loads(_bench_result(tmp_path / "old1.json", "old", [0.0, 0.62]).read_text())
    second["runs"] = second["runs"][1:]
    (tmp_path / "old1.json").write_text(json.dumps(second))
    new = _bench_result(tmp_path / "new.json", "new", [0.50, 0.52])
    done = _compare("--a", str(first), str(tmp_path / "old1.json"), "--b", str(new))
    assert done.returncode == 0, done.stderr
    assert "new - old: -0.100" in done.stdout


def test_compare_learning_pairs_one_seed_file_by_file(tmp_path):
    # 4 speakers x 10 files; A right on all, B wrong on speaker 01's 10 files: paired
    # difference -0.25; McNemar: 10 discordant files all one way, p = 2 / 2^10.
    files = {f"f{i:02d}.wav": f"{i // 10 + 1:02d}" for i in range(40)}
    answers_a = {f: {"true": "sad", "predicted": "sad", "actor": a} for f, a in files.items()}
    answers_b = {
        f: {"true": "sad", "predicted": "angry" if a == "01" else "sad", "actor": a}
        for f, a in files.items()
    }
    for name, answers, accuracies in (
        ("old", answers_a, [1.0, 0.9]),
        ("new", answers_b, [0.75, 0.8]),
    ):
        path = _bench_result(tmp_path / f"{name}.json", name, accuracies)
        result = json.loads(path.read_text())
        result["runs"][0]["answers"] = answers
        path.write_text(json.dumps(result))
    done = _compare("--a", str(tmp_path / "old.json"), "--b", str(tmp_path / "new.json"))
    assert done.returncode == 0, done.stderr
    seed_row = next(line for line in done.stdout.splitlines() if line.startswith("| 0 |"))
    assert "-0.250 [" in seed_row
    assert seed_row.rstrip(" |").endswith(f"{2 / 2**10:.3f}")


def test_compare_learning_refuses_different_settings(tmp_path):
    old = _bench_result(tmp_path / "old.json", "old", [0.60, 0.61, 0.62])
    new = _bench_result(tmp_path / "new.json", "new", [0.50, 0.51, 0.52], epochs=3)
    done = _compare("--a", str(old), "--b", str(new))
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "epochs" in done.stderr and str(new) in done.stderr


def test_compare_learning_refuses_a_seed_given_twice(tmp_path):
    one = _bench_result(tmp_path / "one.json", "old", [0.60, 0.61])
    two = _bench_result(tmp_path / "two.json", "old", [0.62])
    new = _bench_result(tmp_path / "new.json", "new", [0.50, 0.51])
    done = _compare("--a", str(one), str(two), "--b", str(new))
    assert done.returncode == 2 and "seed 0" in done.stderr


def test_compare_learning_with_one_seed_each_pairs_it_and_gives_no_verdict(tmp_path):
    old = _bench_result(tmp_path / "old.json", "old", [0.60])
    new = _bench_result(tmp_path / "new.json", "new", [0.50])
    done = _compare("--a", str(old), "--b", str(new))
    assert done.returncode == 0, done.stderr
    assert "| 0 | 0.600 | 0.500 |" in done.stdout
    assert "no verdict below two seeds" in done.stdout and "Welch" not in done.stdout
