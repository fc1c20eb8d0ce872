"""Where one training step's time goes, with the frozen CNN run in the step (the HF example) and
with its outputs cached (ours): what is left to speed up once the CNN is cached.

    python bench/bench_step_profile.py [--preset small] [--batch 8] [--seconds 1.3] [--repeats 8]

The preset's random checkpoint (`training.demo.stand_in_checkpoint`) as our trainer builds it
(`build_classifier`, the presets' weighted layers, CNN frozen), in training mode (dropout and
SpecAugment on), one batch of generated clips of `--seconds` each (equal lengths: no padding,
so the two steps differ only by the CNN). Times, medians of `--repeats` after two warm-ups:

- `audio step`: forward from the waveform (CNN under no_grad, as a frozen CNN runs), backward,
  AdamW step: the example's step;
- `cached step`: the same from the CNN's outputs (as `cnn_feature_cache` feeds them);
- the cached step without the optimizer, its forward alone, the CNN alone;
- the optimizer step alone for torch's three AdamW implementations (for-loop, the Trainer's
  `adamw_torch` on CPU; foreach; fused, the presets' `adamw_torch_fused`);
- the cached step's operators (torch.profiler, self CPU time) grouped: matrix products,
  convolutions (the positional convolution is the only one left), dropout masks, optimizer
  element-wise work, the rest.

The ceiling of `audio step / cached step` is what caching alone can give at equal padding.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.bench_support import generated_clips  # noqa: E402
from training.demo.stand_in_checkpoint import write_ctc_checkpoint  # noqa: E402
from training.model.exact_forward import feature_encoder  # noqa: E402
from training.model.model_builder import build_classifier, build_feature_extractor  # noqa: E402

# torch.profiler operator names by what they are.
GROUPS = {
    "matrix products": ("aten::mm", "aten::addmm", "aten::bmm", "aten::_scaled_dot_product"),
    "convolution": ("aten::convolution_backward", "aten::mkldnn_convolution", "aten::_convolution"),
    "dropout masks": ("aten::bernoulli_",),
    "optimizer element-wise": ("aten::lerp_", "aten::addcdiv_", "aten::addcmul_", "aten::sqrt"),
}


def _median_seconds(step, repeats: int) -> float:
    step(), step()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        step()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="small")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=1.3)
    parser.add_argument("--repeats", type=int, default=8)
    parser.add_argument("--output", type=Path, default=REPO / "bench_output" / "step_profile.json")
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as folder:
        write_ctc_checkpoint(REPO / "configs" / "models" / f"{args.preset}.json", folder)
        model, _ = build_classifier(folder, pooling="weighted_layers")
        extractor, _ = build_feature_extractor(folder)
    model.freeze_feature_encoder()
    model.train()
    cnn = feature_encoder(model)
    clips = [c[: int(args.seconds * 16000)] for c in generated_clips(args.batch, (2.0, 2.0))]
    audio = extractor(clips, sampling_rate=16000, return_tensors="pt")["input_values"].float()
    labels = torch.randint(0, model.config.num_labels, (args.batch,))
    with torch.no_grad():
        features = cnn(audio)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizers = {
        "for-loop (adamw_torch)": torch.optim.AdamW(trainable, lr=1e-5, foreach=False),
        "foreach": torch.optim.AdamW(trainable, lr=1e-5, foreach=True),
        "fused (adamw_torch_fused)": torch.optim.AdamW(trainable, lr=1e-5, fused=True),
    }
    optimizer = optimizers["for-loop (adamw_torch)"]
    stock_forward = cnn.forward

    def forward(from_features: bool):
        cnn.forward = (lambda values: values) if from_features else stock_forward
        try:
            return model(input_values=features if from_features else audio, labels=labels).loss
        finally:
            cnn.forward = stock_forward

    def step(from_features: bool, with_optimizer: bool = True):
        forward(from_features).backward()
        if with_optimizer:
            optimizer.step()
        optimizer.zero_grad(set_to_none=not with_optimizer)

    def cnn_alone():
        with torch.no_grad():
            stock_forward(audio)

    def forward_alone():
        with torch.no_grad():
            forward(True)

    seconds = {
        "audio step": _median_seconds(lambda: step(False), args.repeats),
        "cached step": _median_seconds(lambda: step(True), args.repeats),
        "cached step without optimizer": _median_seconds(lambda: step(True, False), args.repeats),
        "cached forward": _median_seconds(forward_alone, args.repeats),
        "CNN forward": _median_seconds(cnn_alone, args.repeats),
    }
    forward(True).backward()  # gradients for the optimizers to step on
    for name, candidate in optimizers.items():
        seconds[f"AdamW step, {name}"] = _median_seconds(candidate.step, args.repeats)
    optimizer.zero_grad()
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as profile:
        for _ in range(3):
            step(True)
    self_us = {e.key: e.self_cpu_time_total for e in profile.key_averages()}
    total = sum(self_us.values())
    shares = {
        group: sum(v for k, v in self_us.items() if k.startswith(prefixes)) / total
        for group, prefixes in GROUPS.items()
    }
    shares["rest"] = 1 - sum(shares.values())
    result = {
        "preset": args.preset, "batch": args.batch, "clip_seconds": args.seconds,
        "threads": torch.get_num_threads(), "frames": int(features.shape[-1]),
        "trainable_parameters": sum(p.numel() for p in trainable),
        "seconds": seconds, "cached_step_shares": shares,
        "ceiling_audio_over_cached": seconds["audio step"] / seconds["cached step"],
    }  # fmt: skip
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2))
    print(f"{args.preset}: batch {args.batch} x {args.seconds} s, {result['frames']} frames, "
          f"{torch.get_num_threads()} threads")  # fmt: skip
    for name, value in seconds.items():
        print(f"  {name:42s} {value * 1000:8.1f} ms")
    for name, value in shares.items():
        print(f"  cached step, {name:29s} {value:8.1%}")
    print(f"  audio step / cached step: {result['ceiling_audio_over_cached']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
