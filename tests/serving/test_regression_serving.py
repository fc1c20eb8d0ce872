"""ser-serve and ser-stream with a regression model (one server for the module): the API's
answers are ser-predict's, values included; the page in Chromium shows the values; ser-stream's
lines are predict's windows with their values, for a regression and a multitask model."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
import requests
import soundfile
from serving_helpers import (
    MULTITASK,
    RATE,
    REGRESSION,
    TARGET_RANGES,
    command_env,
    headless_chromium,
    serve,
    speech_with_pauses,
    tiny_dimension_model,
)

WINDOW, HOP = 1.0, 0.5


def _predict(model: Path, files: list[Path], out: Path, *windows: str) -> dict[str, dict]:
    """ser-predict --timeline's answers, {file name: result}."""
    subprocess.run(
        ["ser-predict", "--model_dir", str(model), *map(str, files), "--timeline",
         "--json", str(out), *windows],
        check=True, capture_output=True, env=command_env(), timeout=600,
    )  # fmt: skip
    return {Path(r["file"]).name: r for r in json.loads(out.read_text())["results"]}


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> dict:
    """A regression and a multitask model, a 2 s clip and a 12 s recording; ser-predict's answers
    (with timelines) for both files with the regression model (the server's), and each model's
    timeline of the recording in WINDOW s windows every HOP s (ser-stream's)."""
    root = tmp_path_factory.mktemp("dimension_serving")
    speech = speech_with_pauses(12.0)
    files = {"clip.wav": root / "clip.wav", "long.wav": root / "long.wav"}
    soundfile.write(files["clip.wav"], speech[: 2 * RATE], RATE, subtype="PCM_16")
    soundfile.write(files["long.wav"], speech, RATE, subtype="PCM_16")
    models, windowed = {}, {}
    for task, layout in (("regression", REGRESSION), ("multitask", MULTITASK)):
        models[task] = tiny_dimension_model(root / task, layout)
        windowed[task] = _predict(
            models[task], [files["long.wav"]], root / f"{task}_windows.json",
            "--window_seconds", str(WINDOW), "--hop_seconds", str(HOP),
        )["long.wav"]  # fmt: skip
    expected = _predict(models["regression"], list(files.values()), root / "regression.json")
    return {"root": root, "files": files, "models": models, "expected": expected,
            "windowed": windowed}  # fmt: skip


@pytest.fixture(scope="module")
def server(workspace):
    tmp = workspace["root"] / "server_tmp"
    tmp.mkdir()
    with serve(workspace["models"]["regression"], tmp) as running:
        yield running


def _assert_same_values(got: dict | None, want: dict | None) -> None:
    assert (got is None) == (want is None)
    for target, value in (want or {}).items():
        assert abs(got[target] - value) <= 1e-6, target


def test_the_api_answers_ser_predicts_values(server, workspace):
    facts = requests.get(f"{server.url}/v1/model", timeout=30).json()
    assert facts["task"] == "regression" and facts["labels"] == []
    assert facts["targets"] == list(REGRESSION.targets)
    assert facts["target_ranges"] == TARGET_RANGES
    for name, path in workspace["files"].items():
        expected = workspace["expected"][name]
        params = {"timeline": "true", "name": name}
        response = requests.post(
            f"{server.url}/v1/classify", data=path.read_bytes(), params=params, timeout=300
        )
        assert response.status_code == 200, response.text
        answer = response.json()
        assert answer["emotion"] == expected["emotion"] and answer["probabilities"] is None
        _assert_same_values(answer["values"], expected["values"])
        got, want = answer["timeline"]["windows"], expected["timeline"]["windows"]
        assert [w["emotion"] for w in got] == [w["emotion"] for w in want]
        for window, reference in zip(got, want, strict=True):
            _assert_same_values(window["values"], reference["values"])
        assert answer["timeline"]["segments"] == expected["timeline"]["segments"]


def test_the_page_in_chromium_shows_a_regression_models_values(server, workspace):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    expected = workspace["expected"]
    with headless_chromium() as browser:
        browser.get(f"{server.url}/")
        WebDriverWait(browser, 60).until(
            lambda b: "values of" in b.find_element(By.ID, "model").text
        )
        browser.find_element(By.ID, "file").send_keys(str(workspace["files"]["long.wav"]))
        WebDriverWait(browser, 120).until(
            lambda b: "long.wav: done" in b.find_element(By.ID, "status").text
        )
        assert browser.find_element(By.ID, "error").text == ""
        assert browser.find_element(By.ID, "values-section").is_displayed()
        assert not browser.find_element(By.ID, "classes-section").is_displayed()
        rows = browser.find_elements(By.CSS_SELECTOR, "#values .bar")
        assert [r.get_attribute("data-target") for r in rows] == list(REGRESSION.targets)
        shown = [float(r.find_element(By.CSS_SELECTOR, ".value").text) for r in rows]
        want = [expected["long.wav"]["values"][t] for t in REGRESSION.targets]
        np.testing.assert_allclose(shown, want, atol=5e-4)  # shown to 3 decimals
        curves = browser.find_elements(By.CSS_SELECTOR, "#value-curves polyline")
        assert [c.get_attribute("data-target") for c in curves] == list(REGRESSION.targets)
        header = [c.text for c in browser.find_elements(By.CSS_SELECTOR, "#segments th")]
        assert header[-3:] == list(REGRESSION.targets)


@pytest.mark.parametrize("task", ["regression", "multitask"])
def test_ser_stream_lines_are_predicts_windows_with_their_values(workspace, task):
    model, path = workspace["models"][task], workspace["files"]["long.wav"]
    windows = workspace["windowed"][task]["timeline"]["windows"]
    result = subprocess.run(
        ["ser-stream", str(model), str(path), "--window_seconds", str(WINDOW),
         "--hop_seconds", str(HOP)],
        capture_output=True, text=True, env=command_env(), timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(r["start_s"], r["emotion"]) for r in lines] == [
        (w["start_s"], w["emotion"]) for w in windows
    ]
    for line, window in zip(lines, windows, strict=True):
        if window["values"] is None:
            assert line["values"] is None
            continue
        for target, value in window["values"].items():
            assert abs(line["values"][target] - value) <= 1e-4
        for label, p in (window["probabilities"] or {}).items():
            assert abs(line["probabilities"][label] - p) <= 1e-4
    summary = result.stderr.strip().splitlines()[-1]
    spoken = [w["values"]["arousal"] for w in windows if w["values"]]
    shown = float(re.search(r"arousal (-?\d+\.\d+)", summary).group(1))
    assert abs(shown - np.mean(spoken)) <= 1e-3  # the mean over speech windows, 3 decimals
    assert ("most often" in summary) == (task == "multitask")
