"""ser-evaluate on a model with continuous targets: a tiny regression model and a multitask one,
trained by real runs (in the pytest process) on a generated corpus, scored by the installed
command (the multitask model by the command's main in this process) on another generated corpus
that carries their targets. Every reported number recomputes from the per-file table (CCC,
Pearson r and MAE written out here), each predicted value is what `pipeline(...,
function_to_apply="none")` says in a process that does not import the project, and a corpus
without one of the model's targets, or --conditions with a regression model, is refused in one
line before anything is written."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from pipeline_helpers import pipeline_values
from training_helpers import main_in_process, prepare_in_process, train_command, train_in_process

from bench.dimension_corpus import write_dimension_corpus

EVALUATE = Path(sys.executable).parent / "ser-evaluate"
TRAIN = ("--max_train_seconds", "0.6", "--num_train_epochs", "2")


def ccc(predicted, truth) -> float:
    p, t = np.asarray(predicted, float), np.asarray(truth, float)
    covariance = np.mean((p - p.mean()) * (t - t.mean()))
    return 2 * covariance / (p.var() + t.var() + (p.mean() - t.mean()) ** 2)


def _prepare(root: Path, name: str, seed: int, columns: str, speakers: int, clips: int) -> Path:
    manifest = write_dimension_corpus(root / f"{name}_audio", speakers, clips, seed=seed)
    prepare_in_process("--corpus", "manifest", "--manifest", str(manifest),
                       "--target_columns", columns, "--output_dir", str(root / name),
                       "--cache_dir", str(root / "cache"))  # fmt: skip
    return root / name


def _evaluate(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(EVALUATE), *args, "--bootstrap_resamples", "200"],
        capture_output=True,
        text=True,
        timeout=600,
    )


def _table(folder: Path) -> list[dict]:
    with open(folder / "test_predictions.csv", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def corpora(tmp_path_factory):
    root = tmp_path_factory.mktemp("evaluate_targets")
    trained = _prepare(root, "trained", 0, "arousal,valence", speakers=6, clips=4)
    other = _prepare(root, "other", 1, "arousal,valence", speakers=4, clips=5)
    arousal_only = _prepare(root, "arousal_only", 2, "arousal", speakers=3, clips=2)
    return root, trained, other, arousal_only


@pytest.fixture(scope="module")
def regression_model(checkpoint, corpora):
    root, trained, _, _ = corpora
    output = root / "regression"
    train_in_process(train_command(checkpoint, output, "--dataset_dir", str(trained), "--task",
                                   "regression", "--targets", "arousal,valence",
                                   *TRAIN))  # fmt: skip
    return output


def test_a_regression_model_is_scored_per_target_from_its_table(regression_model, corpora):
    root, _, other, _ = corpora
    result = _evaluate("--model_dir", str(regression_model), "--dataset_dir", str(other))
    assert result.returncode == 0, result.stderr
    (folder,) = (regression_model / "cross_corpus").iterdir()  # the corpus's name: manifest
    results = json.loads((folder / "results.json").read_text())
    rows = _table(folder)
    assert results["scored_files"] == len(rows) == 20
    assert results["targets"] == ["arousal", "valence"]
    with open(root / "other_audio" / "manifest.csv", newline="") as handle:
        rated = {row["path"]: row for row in csv.DictReader(handle)}
    for target in ("arousal", "valence"):
        truth = np.array([float(r[f"true_{target}"]) for r in rows])
        predicted = np.array([float(r[f"predicted_{target}"]) for r in rows])
        assert truth == pytest.approx([float(rated[r["file"]][target]) for r in rows], abs=1e-4)
        assert results[f"ccc_{target}"] == pytest.approx(ccc(predicted, truth), abs=1e-5)
        assert results[f"pearson_{target}"] == pytest.approx(
            np.corrcoef(predicted, truth)[0, 1], abs=1e-5
        )
        assert results[f"mae_{target}"] == pytest.approx(np.abs(predicted - truth).mean(), abs=1e-5)
        interval = results["intervals"]["metrics"][f"ccc_{target}"]
        assert interval["low"] <= results[f"ccc_{target}"] <= interval["high"]
    assert results["intervals"]["unit"] == "speaker" and results["intervals"]["speakers"] == 4
    assert results["ccc"] == pytest.approx((results["ccc_arousal"] + results["ccc_valence"]) / 2)
    assert "CCC arousal" in result.stdout and f"cross_corpus/{folder.name}" in result.stdout
    report = (folder / "README.md").read_text()
    assert "Cross-corpus evaluation: continuous targets" in report
    assert f"{results['ccc_arousal']:.3f}" in report
    files = [r["file"] for r in rows[:2]]
    answers = pipeline_values(regression_model, [root / "other_audio" / f for f in files])
    for row, file in zip(rows[:2], files, strict=True):
        answer = answers[str(root / "other_audio" / file)]
        assert set(answer) == {"arousal", "valence"}  # one answer per file: its values
        for target in ("arousal", "valence"):
            assert float(row[f"predicted_{target}"]) == pytest.approx(answer[target], abs=1e-4)


def test_a_corpus_without_one_of_the_targets_is_refused_in_one_line(regression_model, corpora):
    _, _, _, arousal_only = corpora
    before = sorted(regression_model.rglob("*"))
    result = _evaluate("--model_dir", str(regression_model), "--dataset_dir", str(arousal_only))
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1, result.stderr
    assert f"--dataset_dir {arousal_only}: no valence target column" in errors[0]
    assert "Traceback" not in result.stderr
    assert sorted(regression_model.rglob("*")) == before  # nothing written


def test_conditions_with_a_regression_model_are_refused_in_one_line(regression_model, corpora):
    _, _, other, _ = corpora
    result = _evaluate("--model_dir", str(regression_model), "--dataset_dir", str(other),
                       "--conditions", "clean,noise@10")  # fmt: skip
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1 and "--conditions" in errors[0] and "regression model" in errors[0]
    assert not (regression_model / "robustness").exists()


def test_a_multitask_model_is_scored_on_its_targets_and_shared_classes(checkpoint, corpora):
    root, trained, other, _ = corpora
    model = root / "multitask"
    train_in_process(train_command(checkpoint, model, "--dataset_dir", str(trained), "--task",
                                   "multitask", "--targets", "arousal", *TRAIN))  # fmt: skip
    from training.evaluation import cross_corpus

    # ser-evaluate's main in this process (the regression test runs the installed command).
    main_in_process(cross_corpus.main, ["--model_dir", str(model), "--dataset_dir", str(other),
                                        "--bootstrap_resamples", "200"])  # fmt: skip
    (folder,) = (model / "cross_corpus").iterdir()
    results = json.loads((folder / "results.json").read_text())
    rows = _table(folder)
    predicted = [float(r["predicted_arousal"]) for r in rows]
    assert results["ccc_arousal"] == pytest.approx(
        ccc(predicted, [float(r["true_arousal"]) for r in rows]), abs=1e-5
    )
    classes = ["angry", "sad"]
    probabilities = np.array([[float(r[f"prob_{c}"]) for c in classes] for r in rows])
    truth = np.array([classes.index(r["true_emotion"]) for r in rows])
    chosen = probabilities.argmax(axis=1)
    assert [classes[i] for i in chosen] == [r["predicted_emotion"] for r in rows]
    recall = [np.mean(chosen[truth == k] == k) for k in range(2) if (truth == k).any()]
    assert results["classes"]["shared_classes"]["uar"] == pytest.approx(np.mean(recall))
    assert "UAR" in (folder / "README.md").read_text()
