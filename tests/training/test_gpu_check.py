"""bench/gpu_check.py's dry run (no CUDA here): every step runs and reports sane numbers."""

from __future__ import annotations

import subprocess
import sys

import pytest
from training_helpers import REPO, read_json, run_command, run_env

SCRIPT = REPO / "bench" / "gpu_check.py"


@pytest.fixture(scope="module")
def dry_run(tmp_path_factory):
    output = tmp_path_factory.mktemp("gpu_check")
    result = run_command([sys.executable, str(SCRIPT), str(output), "--dry_run"], timeout=300)
    return result.stdout, read_json(output / "gpu_check.json"), (output / "gpu_check.md")


def test_dry_run_says_so_in_its_output_json_and_table(dry_run):
    stdout, result, table = dry_run
    assert "DRY RUN (--dry_run)" in stdout
    assert result["dry_run"] is True and result["complete"] is True and "error" not in result
    assert result["environment"]["device"] == "cpu"
    assert table.read_text().startswith("DRY RUN on CPU")
    assert set(result) >= {"correctness", "training", "train_step", "evaluation", "projection"}
    assert set(result) >= {"probing", "predict", "flops_check", "seconds", "sizes", "data"}


def test_batched_logits_equal_one_clip_at_a_time(dry_run):
    correctness = dry_run[1]["correctness"]
    fp32, bf16 = correctness["fp32"], correctness["bf16"]
    assert fp32["max_abs_difference"] <= 1e-4 and fp32["passed"]
    # The check can fail: the padded forward, measured beside it, differs.
    assert fp32["padded_max_abs_difference"] > 1e-3
    assert bf16["passed"] and bf16["label_agreement"] == 1.0
    assert bf16["max_abs_difference"] <= bf16["tolerance"]
    # bf16's tolerance is tight enough to tell the exact forward from the padded one.
    assert bf16["tolerance"] == pytest.approx(0.03 * bf16["max_abs_logit"])
    assert not bf16["padded_within_tolerance"]


def test_training_of_both_presets_runs_with_their_settings(dry_run):
    result = dry_run[1]
    for preset in ("full", "small"):
        row = result["training"][preset]
        assert row["timed_steps"] >= 1
        assert row["samples_per_second"] > 0 and row["audio_seconds_per_second"] > 0
        assert 0 <= row["data_wait_share"] < 1
        assert row["peak_gpu_memory_bytes"] is None and row["mfu"] is None  # no GPU here
        assert row["achieved_tflops"] > 0
        settings = row["settings"]
        assert settings["optim"] == "adamw_torch_fused"
        assert settings["attn_implementation"] == "sdpa"
        assert settings["train_sampling_strategy"] == "group_by_length"
        assert settings["gradient_accumulation_steps"] == 2
        step = result["train_step"][preset]
        assert step["exact_seconds"] > 0 and step["padded_seconds"] > 0


def test_projection_follows_its_formula(dry_run):
    result = dry_run[1]
    projection = result["projection"]
    train = result["training"]["full"]["samples_per_second"]
    evaluate = result["evaluation"]["clips_per_second"]
    expected = 20 * (2452 * 16 / 24 / train + 2452 * 4 / 24 / evaluate) + 2452 * 4 / 24 / evaluate
    assert projection["seconds"] == pytest.approx(expected)
    files = projection["train_files"] + projection["validation_files"] + projection["test_files"]
    assert files == pytest.approx(2452, abs=1)  # each share rounded


def test_probing_and_predict_rates(dry_run):
    result = dry_run[1]
    assert result["probing"]["clips_per_second"] > 0
    predict = result["predict"]
    assert predict["scorer"]
    for key in ("batched_clips_per_second_float32", "batched_clips_per_second_bfloat16"):
        assert predict[key] > 0
    assert predict["single_clips_per_second_float32"] > 0


def test_flop_formula_matches_torchs_flop_counter(dry_run):
    check = dry_run[1]["flops_check"]
    assert check["formula_forward_flops"] == pytest.approx(check["counted_forward_flops"], rel=0.01)


def test_missing_packages_are_named_before_any_work(tmp_path):
    """On a machine without `datasets` the script stops at once and says what to bring."""
    hide_datasets = (
        "import importlib.abc, runpy, sys\n"
        "class Hide(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] == 'datasets':\n"
        "            raise ModuleNotFoundError(name)\n"
        "sys.meta_path.insert(0, Hide())\n"
        f"sys.argv = [{str(SCRIPT)!r}, {str(tmp_path)!r}]\n"
        f"runpy.run_path({str(SCRIPT)!r}, run_name='__main__')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", hide_datasets], env=run_env(), capture_output=True, text=True
    )
    assert result.returncode == 2
    assert "missing datasets" in result.stderr and "bench/gpu_wheels.sh" in result.stderr
    assert not (tmp_path / "gpu_check.json").exists()
