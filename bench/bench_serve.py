"""ser-serve under load and ser-stream's delay, for the small preset on CPU.

    python bench/bench_serve.py [--requests 12] [--stream_seconds 20]

Server: requests per second and p50/p95 latency for 3-5 s clips at 1, 4 and 16 concurrent
clients (real HTTP to a ser-serve subprocess, one worker), beside the floor: the same clips
through EmotionClassifier.classify_file in a loop in this process, measured before and after the
server runs in the same minutes (their mean is the floor; a shared machine drifts).
Stream: a recording piped into ser-stream at real-time pace; the delay from each window's end
(when its last sample was written) to its line, and the real-time factor of the same recording
piped as fast as it goes (processing seconds per second of audio; below 1 keeps up), with the
PyTorch and the onnxruntime backends.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import requests
import soundfile

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from bench_long_recordings import onnx_model, preset_model  # noqa: E402
from bench_support import generated_clips  # noqa: E402
from serving_helpers import command_env, serve, speech_with_pauses  # noqa: E402

from training.inference.classifier import EmotionClassifier  # noqa: E402

RATE = 16_000


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a running process (Linux /proc): unlike wall time, it
    barely moves when other jobs share the cores."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def floor(model: Path, files: list[Path], requests_count: int) -> dict:
    classifier = EmotionClassifier.from_pretrained(model, device="cpu")
    classifier.classify_file(files[0])  # warm-up
    latencies = []
    started, cpu = time.monotonic(), process_cpu_seconds(os.getpid())
    for index in range(requests_count):
        begin = time.monotonic()
        classifier.classify_file(files[index % len(files)])
        latencies.append(time.monotonic() - begin)
    elapsed = time.monotonic() - started
    cpu = process_cpu_seconds(os.getpid()) - cpu
    return {"per_second": requests_count / elapsed, "p50": percentile(latencies, 50),
            "p95": percentile(latencies, 95),
            "cpu_s_per_request": cpu / requests_count}  # fmt: skip


def server_load(server, files: list[Path], clients: int, requests_count: int) -> dict:
    url = server.url
    bodies = [f.read_bytes() for f in files]
    requests.post(f"{url}/v1/classify", data=bodies[0], timeout=600).raise_for_status()

    def one(index: int) -> float:
        begin = time.monotonic()
        response = requests.post(f"{url}/v1/classify", data=bodies[index % len(bodies)],
                                 timeout=600)  # fmt: skip
        response.raise_for_status()
        return time.monotonic() - begin

    started, cpu = time.monotonic(), process_cpu_seconds(server.process.pid)
    with ThreadPoolExecutor(clients) as pool:
        latencies = list(pool.map(one, range(requests_count)))
    elapsed = time.monotonic() - started
    cpu = process_cpu_seconds(server.process.pid) - cpu
    return {"clients": clients, "per_second": requests_count / elapsed,
            "p50": percentile(latencies, 50), "p95": percentile(latencies, 95),
            "cpu_s_per_request": cpu / requests_count}  # fmt: skip


def stream_delay(model: Path, pcm: np.ndarray, backend: list[str], paced: bool) -> dict:
    process = subprocess.Popen(
        ["ser-stream", str(model), "-", "--vad", "silero", *backend],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env=command_env(),
    )  # fmt: skip
    for line in process.stderr:
        if line.startswith(b"ser-stream: listening"):
            break
    arrivals: list[tuple[float, dict]] = []

    def read() -> None:
        for line in process.stdout:
            arrivals.append((time.monotonic(), json.loads(line)))

    reader = threading.Thread(target=read)
    reader.start()
    chunk = RATE // 10
    started = time.monotonic()
    for first in range(0, len(pcm), chunk):
        process.stdin.write(pcm[first : first + chunk].tobytes())
        process.stdin.flush()
        if paced:
            time.sleep(max(started + (first + chunk) / RATE - time.monotonic(), 0))
    process.stdin.close()
    reader.join()
    process.wait()
    elapsed = time.monotonic() - started
    seconds = len(pcm) / RATE
    if not paced:
        return {"real_time_factor": elapsed / seconds, "windows": len(arrivals)}
    # A window's last sample was written at started + end_s (paced), its line came later.
    delays = [arrived - (started + row["end_s"]) for arrived, row in arrivals]
    return {"delay_p50": percentile(delays, 50), "delay_max": max(delays),
            "windows": len(arrivals)}  # fmt: skip


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=12, help="requests per measurement")
    parser.add_argument("--stream_seconds", type=float, default=20.0)
    parser.add_argument("--skip_onnx", action="store_true")
    args = parser.parse_args(argv)
    model = preset_model("small")
    report: dict = {"model": "small preset, random weights, RAVDESS window facts"}
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        files = []
        for index, clip in enumerate(generated_clips(6, (3.0, 5.0))):
            files.append(root / f"clip{index}.wav")
            soundfile.write(files[-1], clip, RATE, subtype="PCM_16")
        before = floor(model, files, args.requests)
        with serve(model, root) as server:
            loads = [server_load(server, files, c, args.requests) for c in (1, 4, 16)]
        after = floor(model, files, args.requests)
        floor_rate = (before["per_second"] + after["per_second"]) / 2
        report["floor"] = {"before": before, "after": after, "per_second": floor_rate}
        floor_cpu = (before["cpu_s_per_request"] + after["cpu_s_per_request"]) / 2
        report["server"] = [
            dict(load, ratio=load["per_second"] / floor_rate,
                 cpu_ratio=load["cpu_s_per_request"] / floor_cpu)
            for load in loads
        ]  # fmt: skip
        # Each part as it is measured: a shared machine may stop a long run midway.
        print(json.dumps({"floor": report["floor"], "server": report["server"]}), flush=True)
        pcm = np.round(speech_with_pauses(args.stream_seconds) * 0.8 * 32767).astype("<i2")
        backends = {"pytorch": []}
        if not args.skip_onnx:
            backends["onnxruntime fp32"] = ["--backend", "onnxruntime", "--onnx_file",
                                            str(onnx_model("small") / "model.onnx")]  # fmt: skip
        report["stream"] = {}
        for name, options in backends.items():
            report["stream"][name] = {
                **stream_delay(model, pcm, options, paced=True),
                **stream_delay(model, pcm, options, paced=False),
            }
            print(json.dumps({"stream": {name: report["stream"][name]}}), flush=True)
    print(json.dumps(report, indent=1))
    return report


if __name__ == "__main__":
    main()
