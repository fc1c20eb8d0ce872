"""ser-serve as users run it: a subprocess on a free port, real HTTP, real audio files, and the
answers compared with what `ser-predict --json` writes for the same files."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import requests
import soundfile
from serving_helpers import RATE, command_env, serve, speech_with_pauses, tiny_model

MAX_UPLOAD_MB, MAX_SECONDS = 1, 30
FORMATS = {
    "clip.wav": dict(format="WAV", subtype="PCM_16"),
    "clip.ogg": dict(format="OGG", subtype="VORBIS"),
    "clip.mp3": dict(format="MP3", subtype="MPEG_LAYER_III"),
}


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> dict:
    """A tiny model, a 4 s recording as WAV, Ogg and MP3, and ser-predict's JSON of them."""
    root = tmp_path_factory.mktemp("serve")
    model = tiny_model(root / "model")
    speech = speech_with_pauses(4.0)
    files = {}
    for name, kind in FORMATS.items():
        files[name] = root / name
        soundfile.write(files[name], 0.8 * speech, RATE, **kind)
    expected = root / "predicted.json"
    subprocess.run(
        ["ser-predict", "--model_dir", str(model), *map(str, files.values()), "--timeline",
         "--json", str(expected)],
        check=True, capture_output=True, env=command_env(), timeout=600,
    )  # fmt: skip
    by_name = {Path(r["file"]).name: r for r in json.loads(expected.read_text())["results"]}
    return {"root": root, "model": model, "files": files, "expected": by_name}


@pytest.fixture(scope="module")
def server(workspace):
    tmp = workspace["root"] / "server_tmp"
    tmp.mkdir()
    with serve(workspace["model"], tmp, "--max_upload_mb", str(MAX_UPLOAD_MB),
               "--max_seconds", str(MAX_SECONDS)) as running:  # fmt: skip
        running.tmp = tmp
        yield running


def _post(server, path: Path, **params) -> requests.Response:
    return requests.post(f"{server.url}/v1/classify", data=path.read_bytes(), params=params,
                         timeout=300)  # fmt: skip


def _assert_same_answer(answer: dict, expected: dict, timeline: bool) -> None:
    assert answer["emotion"] == expected["emotion"]
    for key in ("duration_seconds", "windows", "silence_windows", "scored"):
        assert answer[key] == expected[key], key
    assert answer["probabilities"].keys() == expected["probabilities"].keys()
    for label, p in expected["probabilities"].items():
        assert abs(answer["probabilities"][label] - p) <= 1e-6, label
    if timeline:
        got, want = answer["timeline"]["windows"], expected["timeline"]["windows"]
        assert [(w["start_s"], w["emotion"]) for w in got] == [
            (w["start_s"], w["emotion"]) for w in want
        ]
        assert answer["timeline"]["segments"] == expected["timeline"]["segments"]
    else:
        assert "timeline" not in answer


@pytest.mark.parametrize("name", list(FORMATS))
def test_posted_wav_ogg_and_mp3_get_what_ser_predict_json_writes(server, workspace, name):
    path, expected = workspace["files"][name], workspace["expected"][name]
    response = _post(server, path, name=f"/etc/{name}")
    assert response.status_code == 200, response.text
    answer = response.json()
    _assert_same_answer(answer, expected, timeline=False)
    # The client's name is a label: reduced to a file name, never opened.
    assert answer["file"] == name
    response = _post(server, path, timeline="true")
    _assert_same_answer(response.json(), expected, timeline=True)


def _bad_inputs(root: Path) -> dict[str, tuple[bytes, int, str]]:
    """name: (body, expected status, words the one-line message must hold)."""
    nan = np.full(RATE, 0.1, dtype=np.float32)
    nan[RATE // 2] = np.nan
    soundfile.write(root / "nan.wav", nan, RATE, subtype="FLOAT")
    soundfile.write(root / "long.wav", np.zeros(40 * 8000, np.float32), 8000,
                    subtype="PCM_U8")  # fmt: skip
    soundfile.write(root / "cut.wav", np.zeros(RATE, np.float32), RATE, subtype="PCM_16")
    cut = (root / "cut.wav").read_bytes()[:20_000]
    soundfile.write(root / "blip.wav", np.zeros(40, np.float32), RATE, subtype="PCM_16")
    return {
        "not audio": (b"this is a text file, not audio\n" * 50, 415, "not audio"),
        "empty": (b"", 400, "empty body"),
        "too long": ((root / "long.wav").read_bytes(), 413, "--max_seconds"),
        "too large": (bytes(MAX_UPLOAD_MB * 2**20 + 1), 413, "--max_upload_mb"),
        "NaN samples": ((root / "nan.wav").read_bytes(), 422, "NaN"),
        "cut WAV": (cut, 400, "truncated"),
        "too short": ((root / "blip.wav").read_bytes(), 422, "too short"),
    }


def test_each_bad_input_gets_its_status_and_one_line_and_the_next_request_succeeds(
    server, workspace
):
    good, expected = workspace["files"]["clip.wav"], workspace["expected"]["clip.wav"]
    for what, (body, status, words) in _bad_inputs(workspace["root"]).items():
        response = requests.post(f"{server.url}/v1/classify", data=body, timeout=300)
        assert response.status_code == status, (what, response.text)
        message = response.json()["error"]
        assert words in message and "\n" not in message and "Traceback" not in message, what
        assert str(workspace["root"]) not in message, what  # no server path leaks
        _assert_same_answer(_post(server, good).json(), expected, timeline=False)
    for method in ("get", "put", "delete"):
        response = requests.request(method, f"{server.url}/v1/classify", timeout=60)
        assert response.status_code == 405
        assert "not allowed" in response.json()["error"]
    assert requests.post(f"{server.url}/v1/health", timeout=60).status_code == 405
    response = requests.post(f"{server.url}/v1/classify?timeline=maybe", data=b"x", timeout=60)
    assert response.status_code == 400 and "timeline" in response.json()["error"]
    assert requests.get(f"{server.url}/nothing", timeout=60).status_code == 404
    assert "Traceback" not in server.stderr()
    _assert_same_answer(_post(server, good).json(), expected, timeline=False)
    # Every upload's private folder is gone, refused or answered.
    (root,) = server.tmp.glob("ser-serve-*")
    assert list(root.iterdir()) == []


def test_a_too_large_body_is_refused_before_it_is_read(server):
    """Content-Length over the limit: 413 while the client has sent 1 KB of 10 MB."""
    port = int(server.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=60) as connection:
        connection.sendall(b"POST /v1/classify HTTP/1.1\r\nHost: test\r\n"
                           b"Content-Length: 10000000\r\n\r\n" + bytes(1024))  # fmt: skip
        started = time.monotonic()
        answer = b""
        while not answer.endswith(b"}"):
            received = connection.recv(4096)
            assert received, answer
            answer += received
    assert answer.startswith(b"HTTP/1.1 413"), answer
    assert b"--max_upload_mb" in answer and time.monotonic() - started < 30


def test_a_too_large_body_without_a_length_is_cut_off(server):
    def chunks():  # chunked transfer: no Content-Length to refuse it by
        for _ in range(64):
            yield bytes(64 * 1024)

    response = requests.post(f"{server.url}/v1/classify", data=chunks(), timeout=120)
    assert response.status_code == 413 and "--max_upload_mb" in response.json()["error"]


def test_sixteen_concurrent_requests_all_succeed(server, workspace):
    names = list(FORMATS) * 6
    with ThreadPoolExecutor(16) as pool:
        responses = list(pool.map(lambda n: _post(server, workspace["files"][n]), names[:16]))
    for name, response in zip(names, responses, strict=False):
        assert response.status_code == 200, response.text
        _assert_same_answer(response.json(), workspace["expected"][name], timeline=False)


def test_model_and_health_describe_the_server(server):
    model = requests.get(f"{server.url}/v1/model", timeout=60).json()
    assert model["labels"][:2] == ["neutral", "calm"] and model["sampling_rate"] == RATE
    assert model["max_seconds"] == MAX_SECONDS and model["backend"] == "pytorch"
    health = requests.get(f"{server.url}/v1/health", timeout=60).json()
    assert health["status"] == "ok" and health["workers"] == 1


def test_a_full_queue_answers_503_with_retry_after_and_a_public_host_warns(workspace):
    """One worker, no queue: while a long recording is scored, the next request is turned away
    at once; after it, requests succeed again."""
    root = workspace["root"]
    long = root / "long_speech.wav"
    soundfile.write(long, np.tile(speech_with_pauses(4.0), 15), RATE, subtype="PCM_16")
    tmp = root / "busy_tmp"
    tmp.mkdir()
    with serve(workspace["model"], tmp, "--queue_size", "0", "--host", "0.0.0.0") as server:
        assert "warning: --host 0.0.0.0" in server.stderr()
        first = {}
        thread = threading.Thread(target=lambda: first.update(r=_post(server, long)))
        thread.start()
        deadline = time.monotonic() + 120
        while requests.get(f"{server.url}/v1/health", timeout=60).json()["scoring"] == 0:
            assert time.monotonic() < deadline and thread.is_alive()
            time.sleep(0.05)
        busy = _post(server, workspace["files"]["clip.wav"])
        thread.join()
        assert busy.status_code == 503, busy.text
        assert int(busy.headers["Retry-After"]) >= 1 and "busy" in busy.json()["error"]
        assert first["r"].status_code == 200
        again = _post(server, workspace["files"]["clip.wav"])
        _assert_same_answer(again.json(), workspace["expected"]["clip.wav"], timeline=False)


def test_a_folder_that_is_no_model_stops_the_server_in_one_line(tmp_path):
    result = subprocess.run(["ser-serve", str(tmp_path)], capture_output=True, text=True,
                            env=command_env(), timeout=300)  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("error: --model_dir")
    assert "Traceback" not in result.stderr


def _chromium() -> tuple[str, str] | None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    return (browser, driver) if browser and driver else None


def test_the_page_in_chromium_uploads_a_file_and_shows_its_emotion(server, workspace):
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
    found = _chromium()
    if found is None:
        pytest.skip("Debian's chromium and chromium-driver are not installed "
                    "(apt-get install chromium chromium-driver)")  # fmt: skip
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    options = webdriver.ChromeOptions()
    options.binary_location = found[0]
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(flag)
    service = webdriver.ChromeService(executable_path=found[1])
    browser = webdriver.Chrome(options=options, service=service)
    try:
        browser.get(f"{server.url}/")
        WebDriverWait(browser, 60).until(
            lambda b: "emotions" in b.find_element(By.ID, "model").text
        )
        long = workspace["root"] / "page_long.wav"
        soundfile.write(long, speech_with_pauses(20.0), RATE, subtype="PCM_16")
        browser.find_element(By.ID, "file").send_keys(str(workspace["files"]["clip.wav"]))
        WebDriverWait(browser, 120).until(lambda b: b.find_element(By.ID, "emotion").text)
        expected = workspace["expected"]["clip.wav"]
        assert browser.find_element(By.ID, "emotion").text == expected["emotion"]
        bars = browser.find_elements(By.CSS_SELECTOR, "#bars .bar")
        assert [b.get_attribute("data-label") for b in bars] == list(expected["probabilities"])
        # A recording longer than a window gets its timeline and segments.
        browser.find_element(By.ID, "file").send_keys(str(long))
        WebDriverWait(browser, 120).until(
            lambda b: "page_long.wav: done" in b.find_element(By.ID, "status").text
        )
        assert browser.find_element(By.ID, "timeline-section").is_displayed()
        assert browser.find_elements(By.CSS_SELECTOR, "#segments tbody tr")
        assert browser.find_element(By.ID, "error").text == ""
    finally:
        browser.quit()
