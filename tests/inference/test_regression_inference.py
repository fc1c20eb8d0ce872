"""Using a regression or multitask model: one file, one answer from pipeline in a fresh process,
EmotionClassifier, and ser-predict's table, JSON and CSVs; per-window values, their moving
average, the timeline picture, and the --min_confidence refusal."""

from __future__ import annotations

import csv
import json
import subprocess

import numpy as np
import pytest
import soundfile
import torch
from matplotlib.image import imread
from pipeline_helpers import VALUES, Request, pipeline_answers
from serving_helpers import (
    MULTITASK,
    RATE,
    REGRESSION,
    command_env,
    speech_with_pauses,
    tiny_dimension_model,
    tiny_model,
)

from training.inference import EmotionClassifier
from training.inference.output_scores import output_scores
from training.inference.predict import main as predict_main
from training.inference.timeline import smooth_values
from training.model.task_outputs import OutputLayout

LAYOUTS = {"regression": REGRESSION, "multitask": MULTITASK}
WINDOW, HOP, SMOOTH = 2.0, 1.0, 3
SHORT = ("short_a.wav", "short_b.wav")  # no longer than a window: scored whole
TOLERANCE = 1e-5  # float32 forward passes in two processes


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> dict:
    """Two short clips and a 12 s recording with pauses; a regression and a multitask model,
    and ser-predict's JSON, CSVs, table and pictures for every file with each."""
    root = tmp_path_factory.mktemp("dimensions")
    speech = speech_with_pauses(16.0)
    quarter = RATE // 4
    files = {
        SHORT[0]: speech[: int(1.5 * RATE)],
        SHORT[1]: 0.6 * speech[quarter : quarter + 2 * RATE],
        "long.wav": speech[4 * RATE :],
    }
    for name, samples in files.items():
        soundfile.write(root / name, samples, RATE, subtype="FLOAT")
    runs = {}
    for task, layout in LAYOUTS.items():
        model = tiny_dimension_model(root / task, layout)
        out = root / f"{task}_out"
        result = subprocess.run(
            ["ser-predict", "--model_dir", str(model), *(str(root / n) for n in files),
             "--window_seconds", str(WINDOW), "--hop_seconds", str(HOP), "--smooth", str(SMOOTH),
             "--timeline", "--json", str(out / "p.json"), "--csv", str(out / "p.csv"),
             "--csv_timeline", str(out / "t.csv"), "--timeline_png", str(out / "png")],
            capture_output=True, text=True, env=command_env(), timeout=600,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        answers = json.loads((out / "p.json").read_text())["results"]
        runs[task] = {"model": model, "out": out, "stdout": result.stdout,
                      "json": {r["file"].rsplit("/", 1)[-1]: r for r in answers}}  # fmt: skip
    return {"root": root, "files": files, "runs": runs}


@pytest.fixture(scope="module")
def pipeline_raw(workspace) -> dict:
    """{task: {path: {output: value}}}: both models' raw outputs on the short clips, from one
    process that imports nothing of the project: AutoModel loads each, pipeline with no function
    applied gives the raw outputs, values already in the user's units."""
    paths = [workspace["root"] / name for name in SHORT]
    asked = [Request(workspace["runs"][task]["model"], paths, VALUES) for task in LAYOUTS]
    return dict(zip(LAYOUTS, pipeline_answers(asked), strict=True))


def test_output_scores_softmax_the_classes_only_and_pass_the_values_through():
    layout = OutputLayout("multitask", ("a", "b", "c"), ("arousal", "valence"))
    logits = torch.tensor([[2.0, 0.0, 1.0, 5.5, -3.0]])
    scores = output_scores(logits, layout)[0].tolist()
    exp = [np.exp(2.0), 1.0, np.exp(1.0)]  # by hand: e^2, e^0, e^1 over their sum
    np.testing.assert_allclose(scores[:3], [x / sum(exp) for x in exp], rtol=1e-6)
    assert scores[3:] == [5.5, -3.0]
    regression = output_scores(logits[:, :2], OutputLayout("regression", (), ("x", "y")))
    assert regression.tolist() == [[2.0, 0.0]]


def test_smoothing_is_a_moving_average_within_stretches_of_speech():
    speech = [{"values": {"x": v}, "probabilities": None} for v in (1.0, 2.0, 6.0)]
    silence = {"values": None, "probabilities": None}
    rows = [*speech, silence, {"values": {"x": 5.0}}, {"values": {"x": 7.0}}]
    smooth_values(rows, ["x"], 3)
    smoothed = [r.get("smoothed_values", {}).get("x") for r in rows]
    # (1+2)/2, (1+2+6)/3, (2+6)/2; silence bounds the average; (5+7)/2 twice.
    assert smoothed == [1.5, 3.0, 4.0, None, 6.0, 6.0]


@pytest.mark.parametrize("task", list(LAYOUTS))
def test_pipeline_classifier_predict_json_csv_and_table_give_one_answer(
    workspace, pipeline_raw, task
):
    run, layout = workspace["runs"][task], LAYOUTS[task]
    paths = [workspace["root"] / name for name in SHORT]
    raw = pipeline_raw[task]  # pipeline in a process that imports nothing of the project
    classifier = EmotionClassifier.from_pretrained(run["model"], device="cpu")
    with open(run["out"] / "p.csv", newline="") as handle:
        table = {row["file"].rsplit("/", 1)[-1]: row for row in csv.DictReader(handle)}
    for path in paths:
        answer, predicted = classifier.classify_file(path), run["json"][path.name]
        assert answer["scored"] == predicted["scored"] == "whole"
        reference = raw[str(path)]
        for target in layout.targets:
            assert abs(answer["values"][target] - reference[target]) <= TOLERANCE, target
            assert abs(predicted["values"][target] - reference[target]) <= TOLERANCE, target
            assert abs(float(table[path.name][f"value_{target}"]) - reference[target]) <= 1e-5
            # The printed table: the file's row holds each value to 3 decimals.
            row = next(line for line in run["stdout"].splitlines() if path.name in line)
            assert f"{reference[target]:.3f}" in row.split()
        if layout.has_classes:  # the class part: a softmax over the class logits only
            logits = np.array([reference[c] for c in layout.classes])
            expected = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
            got = [predicted["probabilities"][c] for c in layout.classes]
            np.testing.assert_allclose(got, expected, atol=TOLERANCE)
            assert predicted["emotion"] == layout.classes[int(np.argmax(expected))]
        else:
            assert predicted["emotion"] is None and predicted["probabilities"] is None
            assert predicted["top"] == [] and "top 3" not in run["stdout"]


@pytest.mark.parametrize("task", list(LAYOUTS))
def test_timeline_windows_hold_each_windows_own_values_and_their_moving_average(workspace, task):
    run, layout = workspace["runs"][task], LAYOUTS[task]
    answer = run["json"]["long.wav"]
    windows = answer["timeline"]["windows"]
    spoken = [w for w in windows if w["emotion"] != "silence"]
    assert spoken and len(spoken) < len(windows), "the recording has speech and pauses"
    # Each window's values: the model on that window's samples alone.
    classifier = EmotionClassifier.from_pretrained(run["model"], device="cpu")
    samples = workspace["files"]["long.wav"]
    for window in spoken[:3]:
        clip = samples[round(window["start_s"] * RATE) : round(window["end_s"] * RATE)]
        (alone,) = classifier.values([clip])
        np.testing.assert_allclose(
            [window["values"][t] for t in layout.targets], alone, atol=TOLERANCE
        )
    # The file's values: the mean over its speech windows.
    for target in layout.targets:
        mean = np.mean([w["values"][target] for w in spoken])
        assert abs(answer["values"][target] - mean) <= 1e-6
    # Smoothing: the moving average over SMOOTH windows inside each stretch of speech.
    index = next(i for i, w in enumerate(windows[1:-1], 1)
                 if all(x["emotion"] != "silence" for x in windows[i - 1 : i + 2]))  # fmt: skip
    for target in layout.targets:
        by_hand = sum(windows[i]["values"][target] for i in (index - 1, index, index + 1)) / 3
        assert abs(windows[index]["smoothed_values"][target] - by_hand) <= 1e-9
    # Segments: the mean of their windows' smoothed values.
    first = answer["timeline"]["segments"][0]
    members = windows[: first["windows"]]
    if first["emotion"] != "silence":
        for target in layout.targets:
            mean = np.mean([w["smoothed_values"][target] for w in members])
            assert abs(first["values"][target] - mean) <= 1e-9
    # The timeline CSV: a row per window with its values and smoothed values.
    with open(run["out"] / "t.csv", newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if r["file"].endswith("long.wav")]
    assert len(rows) == len(windows)
    for row, window in zip(rows, windows, strict=True):
        for target in layout.targets:
            if window["values"] is None:
                assert row[f"value_{target}"] == row[f"smoothed_{target}"] == ""
            else:
                assert abs(float(row[f"value_{target}"]) - window["values"][target]) <= 1e-6
                smoothed = window["smoothed_values"][target]
                assert abs(float(row[f"smoothed_{target}"]) - smoothed) <= 1e-6


@pytest.mark.parametrize(("task", "height"), [("regression", 450), ("multitask", 700)])
def test_the_timeline_picture_draws_values_as_curves_in_their_own_panel(workspace, task, height):
    picture = imread(workspace["runs"][task]["out"] / "png" / "long.wav.timeline.png")
    # A regression model: values and the speech band; multitask: probabilities above them.
    assert picture.shape[0] == height


def test_min_confidence_is_refused_for_a_regression_model_in_one_line(workspace, capsys):
    model, out = workspace["runs"]["regression"]["model"], workspace["root"] / "refused.json"
    code = predict_main(["--model_dir", str(model), "--min_confidence", "0.5", "--json",
                         str(out), str(workspace["root"] / SHORT[0])])  # fmt: skip
    error = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and not out.exists()
    assert error[-1].startswith("error: --min_confidence") and "regression" in error[-1]


def test_min_confidence_labels_a_multitask_answer_uncertain_and_keeps_its_values(
    workspace, tmp_path, capsys
):
    run = workspace["runs"]["multitask"]
    out = tmp_path / "p.json"
    clip = workspace["root"] / SHORT[0]
    code = predict_main(["--model_dir", str(run["model"]), "--min_confidence", "1.0", "--json",
                         str(out), "--device", "cpu", str(clip)])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    (answer,) = json.loads(out.read_text())["results"]
    expected = run["json"][SHORT[0]]
    assert answer["emotion"] == "uncertain" and answer["model_emotion"] == expected["emotion"]
    assert answer["values"] == pytest.approx(expected["values"], abs=1e-6)


def test_a_classifier_answers_without_values(tmp_path):
    model = tiny_model(tmp_path / "classifier")
    classifier = EmotionClassifier.from_pretrained(model, device="cpu")
    answer = classifier.classify(speech_with_pauses(1.0), RATE, vad="none")
    assert "values" not in answer and classifier.targets == [] and answer["emotion"]
    with pytest.raises(ValueError, match="no target values"):
        classifier.values([speech_with_pauses(1.0)])
