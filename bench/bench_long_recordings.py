"""Long recordings with `training.inference.predict`: speed (times real time) for the small and
full presets at predict's default windows, with and without voice-activity detection (and in
bfloat16, which this CPU's AMX runs), and
peak memory (PSS of the predict process) for 48 kHz stereo WAVs of two lengths.

    python bench/bench_long_recordings.py [--speed_minutes 1] [--memory_minutes 10 60]

The models are the presets' architectures with random weights (speed and memory do not depend
on the weights) and record RAVDESS's clip lengths (median 3.7 s, crop 6 s), so predict's default
windows are what a model trained on RAVDESS gets: 3.7 s every 1.85 s. The recordings are the
sample's synthetic voices (sample_archives) with pauses, written block by block.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import soundfile
import torch
import torchaudio

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench_support import PeakMemory, cpu_seconds  # noqa: E402
from transformers import (  # noqa: E402
    Wav2Vec2Config,
    Wav2Vec2FeatureExtractor,
    Wav2Vec2ForSequenceClassification,
)

from data_scripts.corpora.ravdess.facts import EMOTIONS  # noqa: E402
from data_scripts.corpora.ravdess.sample_archives import SOURCE_SAMPLING_RATE, synthesize  # noqa: E402
from training.model.window_facts import WINDOW_FACTS_KEY  # noqa: E402

OUTPUT = REPO / "bench_output" / "long_recordings"
FILE_RATE = 48_000
RAVDESS_FACTS = {"max_train_seconds": 6.0, "median_seconds": 3.7}


def preset_model(preset: str) -> Path:
    """configs/models/<preset>.json as a weighted-layer classifier, random weights, saved once."""
    directory = OUTPUT / "models" / preset
    if (directory / "model.safetensors").is_file():
        return directory
    config = Wav2Vec2Config.from_json_file(REPO / "configs" / "models" / f"{preset}.json")
    config.num_labels = len(EMOTIONS)
    config.id2label = dict(enumerate(EMOTIONS))
    config.label2id = {e: i for i, e in enumerate(EMOTIONS)}
    config.use_weighted_layer_sum = True
    torch.manual_seed(0)
    Wav2Vec2ForSequenceClassification(config).save_pretrained(directory)
    extractor = Wav2Vec2FeatureExtractor(return_attention_mask=False)
    setattr(extractor, WINDOW_FACTS_KEY, RAVDESS_FACTS)
    extractor.save_pretrained(directory)
    return directory


def recording(minutes: float) -> Path:
    """`minutes` of synthetic speech with 0.3-1.5 s pauses, 48 kHz stereo 16-bit, made once."""
    path = OUTPUT / f"speech_{minutes:g}min_48k_stereo.wav"
    if path.is_file():
        return path
    rng = np.random.default_rng(0)
    clips = []
    for index, emotion in enumerate(("03", "05", "04", "06", "08", "07", "02", "01")):
        intensity = "01" if emotion == "01" else "02"  # neutral has no strong intensity
        voice = synthesize(
            f"03-01-{emotion}-{intensity}-01-01-{index % 24 + 1:02d}.wav", (3.0, 5.0)
        )
        voice = voice if voice.ndim == 1 else voice.mean(axis=1)
        clips.append(
            torchaudio.functional.resample(
                torch.from_numpy(voice), SOURCE_SAMPLING_RATE, FILE_RATE
            ).numpy()
        )
    total, written = int(minutes * 60 * FILE_RATE), 0
    path.parent.mkdir(parents=True, exist_ok=True)
    with soundfile.SoundFile(path, "w", FILE_RATE, 2, "PCM_16") as sound:
        while written < total:
            block = np.concatenate(
                [clips[rng.integers(len(clips))], np.zeros(int(rng.uniform(0.3, 1.5) * FILE_RATE))]
            )[: total - written]
            sound.write(np.stack([block, 0.8 * block], axis=1).astype(np.float32))
            written += len(block)
    return path


def speed(preset: str, path: Path, vad: str, dtype: str = "float32", overlap: bool = True) -> dict:
    """Wall and CPU seconds of predict_files on `path` (model loaded before timing)."""
    from tqdm.auto import tqdm

    from training.inference.scoring import Scorer
    from training.inference.vad import make_vad
    from training.inference.windows import score_file
    from training.model.window_facts import default_windows

    model = preset_model(preset)
    windows = default_windows(model)
    scorer = Scorer(model, "cpu", dtype)
    detector = make_vad(vad, scorer.sampling_rate)
    window = round(windows.window_seconds * scorer.sampling_rate)
    hop = round((windows.hop_seconds if overlap else windows.window_seconds) * scorer.sampling_rate)
    wall, cpu = time.perf_counter(), cpu_seconds()
    with tqdm(disable=True) as progress:
        rows, duration = score_file(path, scorer, detector, window, hop, 8, progress)
    wall, cpu = time.perf_counter() - wall, cpu_seconds() - cpu
    speech = sum(1 for row in rows if row["probabilities"] is not None)
    return {"preset": preset, "vad": vad, "dtype": dtype, "audio_seconds": round(duration, 1),
            "window_seconds": windows.window_seconds, "hop_seconds": hop / scorer.sampling_rate,
            "windows": len(rows), "speech_windows": speech, "wall_seconds": round(wall, 1),
            "cpu_seconds": round(cpu, 1), "x_real_time": round(duration / wall, 1),
            "x_real_time_per_cpu_second": round(duration / cpu, 1)}  # fmt: skip


def memory(path: Path) -> dict:
    """Peak PSS of the predict command (small preset, default windows, silero) on `path`."""
    command = [sys.executable, "-m", "training.inference.predict", "--model_dir",
               str(preset_model("small")), "--device", "cpu", str(path)]  # fmt: skip
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    with PeakMemory(process.pid) as peak:
        _, err = process.communicate()
    if process.returncode != 0:
        raise RuntimeError(err.decode()[-2000:])
    return {"file": path.name, "file_bytes": path.stat().st_size,
            "peak_pss_mb": round(peak.peak_bytes / 2**20), "wall_seconds":
            round(time.perf_counter() - started, 1)}  # fmt: skip


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--speed_minutes", type=float, default=1.0)
    parser.add_argument("--presets", nargs="*", default=["small", "full"])
    parser.add_argument("--memory_minutes", type=float, nargs="*", default=[10.0, 60.0])
    args = parser.parse_args(argv)
    results = {"speed": [], "memory": []}
    path = recording(args.speed_minutes)
    for preset in args.presets:
        # (vad, dtype, overlapping windows): the default, then without VAD, in bfloat16, and
        # with the hop a whole window (each moment scored once).
        runs = [("silero", "float32", True), ("none", "float32", True),
                ("none", "bfloat16", True), ("silero", "float32", False)]  # fmt: skip
        for vad, dtype, overlap in runs:
            results["speed"].append(speed(preset, path, vad, dtype, overlap))
            print(json.dumps(results["speed"][-1]), flush=True)
    for minutes in args.memory_minutes:
        results["memory"].append(memory(recording(minutes)))
        print(json.dumps(results["memory"][-1]), flush=True)
    (OUTPUT / f"results_{int(time.time())}.json").write_text(json.dumps(results, indent=2) + "\n")
    return results


if __name__ == "__main__":
    main()
