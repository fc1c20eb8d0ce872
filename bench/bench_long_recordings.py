"""Long recordings with `training.inference.predict`: speed (times real time) for the small and
full presets at predict's default windows, on all-speech audio and on speech with pauses (with
the voice-activity detector), at half-window hops, in bfloat16 (this CPU's AMX) and with the
onnxruntime backend (fp32 and int8 exports), and peak memory (PSS of the predict process) for
48 kHz stereo WAVs of several lengths.

    python bench/bench_long_recordings.py [--speed_minutes 10] [--memory_minutes 10 60]

The models are the presets' architectures with random weights (speed and memory do not depend
on the weights) and record RAVDESS's clip lengths (median 3.7 s, crop 6 s), so predict's default
windows are what a model trained on RAVDESS gets: 3.7 s, one after another. The all-speech
recording is the sample's synthetic voices with pauses, scored with `--vad none` (every window
scored: the worst case); the speech-with-pauses recording is espeak-ng sentences (four voices)
with 0.3-1.5 s pauses, as in a conversation, which silero hears as speech.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile
import torch
import torchaudio

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench_support import PeakMemory, cpu_seconds  # noqa: E402
from bench_vad import SENTENCES  # noqa: E402
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


def conversation(minutes: float) -> Path:
    """`minutes` of espeak-ng sentences in four voices with 0.3-1.5 s pauses, 48 kHz stereo."""
    path = OUTPUT / f"conversation_{minutes:g}min_48k_stereo.wav"
    if path.is_file():
        return path
    rng = np.random.default_rng(0)
    sentences = []
    with tempfile.TemporaryDirectory() as folder:
        for index, sentence in enumerate(SENTENCES * 4):
            wav = Path(folder) / f"{index}.wav"
            voice = ("en", "en-us", "en+f3", "en+m3")[index % 4]
            subprocess.run(["espeak-ng", "-v", voice, "-w", str(wav), sentence], check=True)
            speech, rate = soundfile.read(wav, dtype="float32")
            sentences.append(
                torchaudio.functional.resample(torch.from_numpy(speech), rate, FILE_RATE).numpy()
            )
    total, written = int(minutes * 60 * FILE_RATE), 0
    with soundfile.SoundFile(path, "w", FILE_RATE, 2, "PCM_16") as sound:
        while written < total:
            pause = np.zeros(int(rng.uniform(0.3, 1.5) * FILE_RATE), np.float32)
            block = np.concatenate([sentences[rng.integers(len(sentences))], pause])
            block = block[: total - written]
            sound.write(np.stack([block, 0.8 * block], axis=1))
            written += len(block)
    return path


def onnx_model(preset: str) -> Path:
    """The preset model exported by `training.inference.export --quantize int8`, made once."""
    directory = OUTPUT / "onnx" / preset
    if not (directory / "model.int8.onnx").is_file():
        command = [sys.executable, "-m", "training.inference.export", str(preset_model(preset)),
                   str(directory), "--quantize", "int8", "--overwrite"]  # fmt: skip
        subprocess.run(command, cwd=REPO, check=True, capture_output=True)
    return directory


def speed(preset: str, path: Path, vad: str, form: str = "float32", hop_fraction=1.0) -> dict:
    """Wall and CPU seconds of score_file on `path` (model loaded before timing). `form`:
    float32 or bfloat16 (PyTorch), or the ONNX file's name (onnxruntime backend)."""
    from tqdm.auto import tqdm

    from training.inference.onnx_backend import OnnxScorer
    from training.inference.scoring import Scorer
    from training.inference.vad import make_vad
    from training.inference.windows import score_file
    from training.model.window_facts import default_windows

    model = preset_model(preset)
    windows = default_windows(model)
    if form.endswith(".onnx"):
        scorer = OnnxScorer(onnx_model(preset), form)
    else:
        scorer = Scorer(model, "cpu", form)
    detector = make_vad(vad, scorer.sampling_rate)
    window = round(windows.window_seconds * scorer.sampling_rate)
    hop = round(windows.hop_seconds * hop_fraction * scorer.sampling_rate)
    wall, cpu = time.perf_counter(), cpu_seconds()
    with tqdm(disable=True) as progress:
        rows, duration = score_file(path, scorer, detector, window, hop, 8, progress)
    wall, cpu = time.perf_counter() - wall, cpu_seconds() - cpu
    speech = sum(1 for row in rows if row["probabilities"] is not None)
    return {"preset": preset, "recording": path.name, "vad": vad, "form": form,
            "audio_seconds": round(duration, 1),
            "window_seconds": windows.window_seconds, "hop_seconds": hop / scorer.sampling_rate,
            "windows": len(rows), "speech_windows": speech, "wall_seconds": round(wall, 1),
            "cpu_seconds": round(cpu, 1), "x_real_time": round(duration / wall, 1),
            "x_real_time_per_cpu_second": round(duration / cpu, 1)}  # fmt: skip


def plain(preset: str, path: Path) -> dict:
    """The fastest plain way to the same windows: read the whole file, downmix, resample, and
    give the stock model each window alone (faster per window on this CPU than batches),
    with no voice-activity detection."""
    from transformers import AutoFeatureExtractor, AutoModelForAudioClassification

    from training.model.window_facts import default_windows

    model_dir = preset_model(preset)
    model = AutoModelForAudioClassification.from_pretrained(model_dir).eval()
    extractor = AutoFeatureExtractor.from_pretrained(model_dir)
    window = round(default_windows(model_dir).window_seconds * 16_000)
    wall, cpu = time.perf_counter(), cpu_seconds()
    samples, rate = soundfile.read(path, dtype="float32")
    mono = torch.from_numpy(samples.mean(axis=1))
    audio = torchaudio.functional.resample(mono, rate, 16_000).numpy()
    with torch.inference_mode():
        for start in range(0, len(audio) - window + 1, window):
            inputs = extractor(audio[start : start + window], sampling_rate=16_000,
                               return_tensors="pt")  # fmt: skip
            model(**inputs)
    wall, cpu = time.perf_counter() - wall, cpu_seconds() - cpu
    duration = len(audio) / 16_000
    return {"preset": preset, "recording": path.name, "vad": "none", "form": "plain loop",
            "audio_seconds": round(duration, 1), "wall_seconds": round(wall, 1),
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
    parser.add_argument("--speed_minutes", type=float, default=10.0)
    parser.add_argument("--presets", nargs="*", default=["small", "full"])
    parser.add_argument("--memory_minutes", type=float, nargs="*", default=[10.0, 60.0])
    args = parser.parse_args(argv)
    results = {"speed": [], "memory": []}
    voices, talk = recording(args.speed_minutes), conversation(args.speed_minutes)
    for preset in args.presets:
        # (recording, vad, form, hop as a fraction of the default): the default on speech with
        # pauses, then every window scored, at half-window hops, in bfloat16 and in onnxruntime.
        runs = [(talk, "silero", "float32", 1.0), (voices, "none", "float32", 1.0),
                (voices, "none", "float32", 0.5), (voices, "none", "bfloat16", 1.0),
                (voices, "none", "model.onnx", 1.0), (voices, "none", "model.int8.onnx", 1.0),
                (talk, "silero", "model.int8.onnx", 1.0)]  # fmt: skip
        for path, vad, form, hop_fraction in runs:
            results["speed"].append(speed(preset, path, vad, form, hop_fraction))
            print(json.dumps(results["speed"][-1]), flush=True)
            if form == "float32" and vad == "none" and hop_fraction == 1.0:
                results["speed"].append(plain(preset, path))  # the same work, plainly
                print(json.dumps(results["speed"][-1]), flush=True)
    for minutes in args.memory_minutes:
        results["memory"].append(memory(recording(minutes)))
        print(json.dumps(results["memory"][-1]), flush=True)
    (OUTPUT / f"results_{int(time.time())}.json").write_text(json.dumps(results, indent=2) + "\n")
    return results


if __name__ == "__main__":
    main()
