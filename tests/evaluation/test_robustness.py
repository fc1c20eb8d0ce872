"""`ser-evaluate --conditions`: seeded corruptions of the test audio, one per-file table and one
set of metrics per condition (recomputed here from the table), the PNG and the card section,
and one-line refusals before any scoring."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import datasets
import numpy as np
import pytest
from audio_helpers import voiced
from model_helpers import save_tiny_classifier

from data_scripts.common.audio_hash import audio_sha256
from data_scripts.corpora.ravdess.facts import EMOTIONS
from data_scripts.corpora.ravdess_corpus import FEATURES
from training.augment import transforms
from training.augment.conditions import Corruptor, parse_conditions
from training.augment.mp3 import mp3_encoder
from training.evaluation.cross_corpus import main as evaluate_main
from training.reports.per_file_results import read_predictions_table
from training.reports.table_intervals import table_intervals

BIN = Path(sys.executable).parent
CONDITIONS = "clean,noise@10,noise@0,reverb,telephone,mp3@32k"


def _dataset(folder: Path, count: int = 16) -> Path:
    """A saved RAVDESS-shaped dataset of generated clips, two actors, every emotion (named by
    its folder: no corpus.json)."""
    rows = {name: [] for name in FEATURES}
    for i in range(count):
        clip = voiced(0.8 + 0.05 * i, 120 + 15 * i, seed=i)
        values = {"audio": {"array": clip, "sampling_rate": 16_000}, "label": i % len(EMOTIONS),
                  "length": len(clip), "vocal_channel": "speech", "intensity": "normal",
                  "statement": 1, "repetition": 1 + i // 8, "actor": 1 + i % 2,
                  "speaker": f"{1 + i % 2:02d}", "corpus": "ravdess",
                  "gender": ["male", "female"][i % 2], "audio_sha256": audio_sha256(clip),
                  "file": f"03-01-{i % 8 + 1:02d}-01-01-{i // 8 + 1:02d}-{1 + i % 2:02d}.wav",
                  }  # fmt: skip
        for name in FEATURES:
            rows[name].append(values[name])
    datasets.Dataset.from_dict(rows, features=FEATURES).save_to_disk(str(folder))
    return folder


def _evaluate(*arguments: str) -> subprocess.CompletedProcess:
    env = {"PATH": f"{BIN}:/usr/bin:/bin", "HF_HUB_OFFLINE": "1", "HOME": str(Path.home()),
           "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}  # fmt: skip
    return subprocess.run(
        [str(BIN / "ser-evaluate"), *arguments], capture_output=True, text=True, env=env
    )


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory):
    root = tmp_path_factory.mktemp("robustness")
    model = save_tiny_classifier(root / "model")
    (model / "README.md").write_text("---\nlicense: other\n---\n\n# model\n")
    data = _dataset(root / "ravdess")
    result = _evaluate("--model_dir", str(model), "--dataset_dir", str(data),
                       "--conditions", CONDITIONS, "--corruption_seed", "3")  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return model, data, result


def _table(path: Path) -> list[dict]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_each_conditions_metrics_recompute_from_its_per_file_table(evaluated):
    model, _, _ = evaluated
    folder = model / "robustness" / "ravdess"
    report = json.loads((folder / "robustness.json").read_text())
    assert [c["condition"] for c in report["conditions"]] == CONDITIONS.split(",")
    for condition in report["conditions"]:
        rows = _table(folder / condition["condition"] / "test_predictions.csv")
        assert len(rows) == condition["scored_files"] == 16
        truth = np.array([row["true_emotion"] for row in rows])
        predicted = np.array([row["predicted_shared"] for row in rows])
        accuracy = float(np.mean(truth == predicted))
        recalls = [np.mean(predicted[truth == name] == name) for name in sorted(set(truth))]
        assert condition["shared_classes"]["accuracy"] == pytest.approx(accuracy)
        assert condition["shared_classes"]["uar"] == pytest.approx(float(np.mean(recalls)))
        saved = json.loads((folder / condition["condition"] / "results.json").read_text())
        assert saved["shared_classes"] == condition["shared_classes"]


def test_each_condition_has_speaker_clustered_intervals_that_recompute_from_its_table(evaluated):
    model, _, _ = evaluated
    folder = model / "robustness" / "ravdess"
    report = json.loads((folder / "robustness.json").read_text())
    for condition in report["conditions"]:
        path = folder / condition["condition"] / "test_predictions.csv"
        recomputed = table_intervals(read_predictions_table(path), path)
        saved = condition["unrestricted"]["intervals"]
        assert saved["speakers"] == recomputed["speakers"] == 2
        for name in ("accuracy", "uar"):
            assert saved["metrics"][name] == pytest.approx(recomputed["metrics"][name])
    card = (model / "README.md").read_text()
    assert "bootstrap resamples of 2 speakers" in card


def test_corruptions_change_the_scores_and_repeat_exactly(evaluated, tmp_path):
    model, data, _ = evaluated
    folder = model / "robustness" / "ravdess"
    clean = _table(folder / "clean" / "test_predictions.csv")
    for condition in CONDITIONS.split(",")[1:]:
        corrupted = _table(folder / condition / "test_predictions.csv")
        assert [r["file"] for r in corrupted] == [r["file"] for r in clean]
        assert any(
            a["prob_angry"] != b["prob_angry"] for a, b in zip(clean, corrupted, strict=True)
        ), condition
    # The same command in this process: the installed one ran above (the fixture).
    assert evaluate_main(["--model_dir", str(model), "--dataset_dir", str(data), "--conditions",
                          "noise@0", "--corruption_seed", "3",
                          "--output_dir", str(tmp_path)]) == 0  # fmt: skip
    repeated = tmp_path / "robustness" / "ravdess" / "noise@0" / "test_predictions.csv"
    assert repeated.read_text() == (folder / "noise@0" / "test_predictions.csv").read_text()


def test_the_report_has_a_picture_and_a_card_section(evaluated, capsys):
    model, data, result = evaluated
    folder = model / "robustness" / "ravdess"
    assert (folder / "accuracy_by_condition.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    card = (model / "README.md").read_text()
    assert card.startswith("---\nlicense: other") and card.count("## Robustness on ravdess") == 1
    for condition in CONDITIONS.split(","):
        assert f"| `{condition}` |" in card
    assert "robustness/ravdess/accuracy_by_condition.png" in card
    assert len([line for line in result.stdout.splitlines() if "accuracy" in line]) == 6
    # The same evaluation again is refused unless --overwrite; then its section replaces the
    # first rather than adding another.
    # The command in this process (the installed one ran in the fixture): exit 1 is SystemExit.
    capsys.readouterr()
    again = [
        "--model_dir",
        str(model),
        "--dataset_dir",
        str(data),
        "--conditions",
        "clean,telephone",
    ]
    with pytest.raises(SystemExit) as refused:
        evaluate_main(again)
    assert refused.value.code == 1 and "pass --overwrite" in capsys.readouterr().err
    assert "| `noise@10` |" in (model / "README.md").read_text()
    assert evaluate_main([*again, "--overwrite"]) == 0
    card = (model / "README.md").read_text()
    assert card.count("## Robustness on ravdess") == 1 and "| `noise@10` |" not in card


@pytest.fixture(scope="module")
def refusal_inputs(tmp_path_factory) -> dict:
    """A model, a two-clip dataset and an empty folder; a refused command writes nothing, so the
    cases share them."""
    root = tmp_path_factory.mktemp("refusals")
    (root / "empty").mkdir()
    return {"model": save_tiny_classifier(root / "model"),
            "data": _dataset(root / "ravdess", count=2), "empty": root / "empty"}  # fmt: skip


def _refusal_arguments(inputs: dict, arguments: list[str]) -> list[str]:
    arguments = [str(inputs["empty"]) if a == "EMPTY" else a for a in arguments]
    return ["--model_dir", str(inputs["model"]), "--dataset_dir", str(inputs["data"]), *arguments]


def _assert_one_line_refusal(returncode: int, stderr: str, message: str, inputs: dict) -> None:
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert returncode == 1 and len(errors) == 1, stderr[-2000:]
    assert message.replace("EMPTY", str(inputs["empty"])) in errors[0]
    assert "Traceback" not in stderr
    assert not (inputs["model"] / "robustness").exists()


def test_the_installed_command_refuses_an_unknown_condition_in_one_line(refusal_inputs):
    arguments = _refusal_arguments(refusal_inputs, ["--conditions", "clean,noise@10,underwater"])
    result = _evaluate(*arguments)
    message = "--conditions: unknown condition 'underwater'"
    _assert_one_line_refusal(result.returncode, result.stderr, message, refusal_inputs)


# The same refusals through the command's own entry point, in this process (each installed
# command costs seconds of imports; the one above shows the installed path says the same).
@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--conditions", "clean,noise@10,underwater"],
         "--conditions: unknown condition 'underwater'"),
        (["--conditions", "noise@"], "--conditions: unknown condition 'noise@'"),
        (["--conditions", "clean,noise@10", "--noise_dir", "EMPTY"],
         "--noise_dir EMPTY: no audio files"),
        (["--conditions", "reverb", "--rir_dir", "EMPTY"], "--rir_dir EMPTY: no audio files"),
        (["--conditions", "clean,mp3@400k"],
         "mp3@400k: at 16000 Hz MP3 bitrates run from 8k to 160k"),
        (["--noise_dir", "EMPTY"], "--noise_dir: used only with --conditions"),
    ],
)  # fmt: skip
def test_unknown_conditions_and_empty_folders_are_refused_in_one_line(
    refusal_inputs, capsys, arguments, message
):
    with pytest.raises(SystemExit) as exited:
        evaluate_main(_refusal_arguments(refusal_inputs, arguments))
    _assert_one_line_refusal(exited.value.code, capsys.readouterr().err, message, refusal_inputs)


def test_a_noise_condition_adds_noise_at_its_snr():
    clip = voiced(1.5)
    for condition in parse_conditions("noise@20,noise@10,noise@5"):
        noisy = Corruptor(16_000, seed=1)(clip, condition, "a.wav")
        measured = 10 * np.log10(transforms.power(clip) / transforms.power(noisy - clip))
        assert abs(measured - condition.value) < 0.5


@pytest.mark.skipif(mp3_encoder() is None, reason="no MP3 coder here")
def test_mp3_coding_keeps_the_length_and_loses_the_top_of_the_spectrum():
    t = np.arange(16_000) / 16_000
    clip = (0.3 * np.sin(2 * np.pi * 440 * t) + 0.05 * np.sin(2 * np.pi * 7_500 * t)).astype(
        np.float32
    )
    (condition,) = parse_conditions("mp3@32k")
    coded = Corruptor(16_000)(clip, condition, "a.wav")
    assert coded.shape == clip.shape
    spectrum = np.abs(np.fft.rfft(coded))
    assert spectrum[440] > 0.8 * np.abs(np.fft.rfft(clip))[440]
    assert spectrum[7_500] < 0.2 * np.abs(np.fft.rfft(clip))[7_500]  # 32 kbit/s cuts the top
