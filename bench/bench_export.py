"""What the exported forms cost and gain on CPU: PyTorch fp32 vs onnxruntime fp32 vs int8.

    python bench/bench_export.py [--presets small full] [--clips 12] [--repeats 3] [--export DIR]

Random weights (configs/models/{small,full}.json with the presets' weighted-layer head), the
same generated clips of 3-5 s (RAVDESS-like lengths) for every form, one clip at a time (as
pipeline and the ONNX backend score). In every repeat each clip goes through the three forms
one after another, so load from other processes hits them alike; medians over repeats. Also:
sizes on disk, and where PyTorch's time goes (the CNN feature encoder vs the rest). `--export
DIR` adds the int8 label agreement an export recorded on its test files (manifest.json).
Writes bench_output/export/export_bench.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from transformers import (  # noqa: E402
    AutoConfig,
    AutoModelForAudioClassification,
    Wav2Vec2FeatureExtractor,
)

from data_scripts.corpora.ravdess.facts import EMOTIONS  # noqa: E402
from training.inference.export_check import generated_clips  # noqa: E402
from training.inference.onnx_export import (  # noqa: E402
    export_onnx,
    onnx_session,
    quantize_int8,
)

OUTPUT = REPO / "bench_output" / "export"
RATE = 16_000


def _model(preset: str):
    config = AutoConfig.from_pretrained(REPO / "configs" / "models" / f"{preset}.json")
    config.update(
        {
            "num_labels": len(EMOTIONS),
            "id2label": dict(enumerate(EMOTIONS)),
            "label2id": {name: i for i, name in enumerate(EMOTIONS)},
            "use_weighted_layer_sum": True,
        }
    )
    torch.manual_seed(0)
    return AutoModelForAudioClassification.from_config(config).eval()


def _timed(function) -> tuple[float, object]:
    start = time.perf_counter()
    result = function()
    return time.perf_counter() - start, result


def bench_preset(preset: str, clips: list[np.ndarray], repeats: int, folder: Path) -> dict:
    model = _model(preset)
    extractor = Wav2Vec2FeatureExtractor(sampling_rate=RATE)
    inputs = [
        extractor(c, sampling_rate=RATE, return_tensors="np")["input_values"].astype(np.float32)
        for c in clips
    ]
    model.save_pretrained(folder / preset)
    export_seconds, onnx_path = _timed(
        lambda: export_onnx(model, folder / preset / "model.onnx", RATE)
    )
    quantize_seconds, int8_path = _timed(
        lambda: quantize_int8(onnx_path, folder / preset / "model.int8.onnx")
    )
    sessions = {
        "onnxruntime fp32": onnx_session(onnx_path),
        "onnxruntime int8": onnx_session(int8_path),
    }

    def torch_forward(values):
        with torch.inference_mode():
            return model(input_values=torch.from_numpy(values)).logits.numpy()

    def torch_cnn(values):
        with torch.inference_mode():
            return model.base_model.feature_extractor(torch.from_numpy(values))

    forms = {
        "pytorch fp32": torch_forward,
        **{
            name: (lambda v, s=s: s.run(["logits"], {"input_values": v})[0])
            for name, s in sessions.items()
        },
        "pytorch CNN only": torch_cnn,
    }
    for values in inputs[:2]:  # warm-up: first-call allocations and kernel choices
        for form in forms.values():
            form(values)
    seconds = {name: [] for name in forms}
    labels = {name: [] for name in forms if "CNN" not in name}
    for _ in range(repeats):
        totals = dict.fromkeys(forms, 0.0)
        for values in inputs:
            for name, form in forms.items():
                elapsed, output = _timed(lambda f=form, v=values: f(v))
                totals[name] += elapsed
                if name in labels and len(labels[name]) < len(inputs):
                    labels[name].append(int(np.argmax(output)))
        for name in forms:
            seconds[name].append(totals[name])
    audio_seconds = sum(len(c) for c in clips) / RATE
    timing = {}
    for name, values in seconds.items():
        median = statistics.median(values)
        timing[name] = {
            "seconds_per_pass": median,
            "rounds": values,
            "clips_per_second": len(clips) / median,
            "x_real_time": audio_seconds / median,
        }
    base = timing["pytorch fp32"]["seconds_per_pass"]
    return {
        "preset": preset,
        "parameters": sum(p.numel() for p in model.parameters()),
        "export_seconds": export_seconds,
        "quantize_seconds": quantize_seconds,
        "sizes_mb": {
            "model.safetensors": (folder / preset / "model.safetensors").stat().st_size / 1e6,
            "model.onnx": onnx_path.stat().st_size / 1e6,
            "model.int8.onnx": int8_path.stat().st_size / 1e6,
        },
        "timing": timing,
        "speedup_vs_pytorch": {n: base / t["seconds_per_pass"] for n, t in timing.items()},
        "cnn_share_of_pytorch": timing["pytorch CNN only"]["seconds_per_pass"] / base,
        "int8_label_agreement_random_weights": float(
            np.mean(np.equal(labels["onnxruntime int8"], labels["onnxruntime fp32"]))
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", default=["small", "full"])
    parser.add_argument("--clips", type=int, default=12)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--export", action="append", default=[], help="an export's folder")
    args = parser.parse_args()
    torch.set_num_threads(torch.get_num_threads())
    rng = np.random.default_rng(0)
    lengths = rng.uniform(3.0, 5.0, args.clips)
    clips = [generated_clips(RATE, seconds=(float(s),), seed=i)[0] for i, s in enumerate(lengths)]
    results = {
        "clips": args.clips,
        "audio_seconds": float(sum(len(c) for c in clips) / RATE),
        "threads": torch.get_num_threads(),
        "presets": [],
        "exports": {},
    }
    with tempfile.TemporaryDirectory(prefix="bench-export-") as folder:
        for preset in args.presets:
            result = bench_preset(preset, clips, args.repeats, Path(folder))
            results["presets"].append(result)
            print(json.dumps(result, indent=2), flush=True)
    for export in args.export:
        manifest = json.loads((Path(export) / "manifest.json").read_text())
        results["exports"][export] = manifest["verification"].get("int8")
    OUTPUT.mkdir(parents=True, exist_ok=True)
    (OUTPUT / "export_bench.json").write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results["exports"], indent=2))


if __name__ == "__main__":
    main()
