"""The CNN cache's build: three ways to run a frozen group-norm CNN over length-sorted batches.

    python bench/bench_cnn_cache_build.py [--preset tiny] [--clips 64] [--batch 32] [--repeats 2]

- `per-clip first layer`: `exact_forward`'s batch independence (the first conv layer, which holds
  the group norm, one clip length at a time; the later layers on the padded batch), the build
  before the masked statistics;
- `masked statistics`: `masked_cnn_outputs` (one call per layer, the first layer's group-norm
  statistics masked to each clip), the build now;
- `stock padded`: the stock CNN on the padded batch (not exact: padding moves the statistics),
  the floor.

Clips are generated (1.0-1.6 s, like the sample corpus), the preset's random checkpoint is built
by `training.demo.stand_in_checkpoint`. The three run interleaved, `--repeats` times; prints CPU
and wall seconds of each and the largest difference of the first two on each clip's real frames,
relative to the clip's largest value.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.bench_support import cpu_seconds, generated_clips  # noqa: E402
from training.demo.stand_in_checkpoint import write_ctc_checkpoint  # noqa: E402
from training.model.exact_forward import feature_encoder, make_batch_independent  # noqa: E402
from training.model.model_builder import build_classifier, build_feature_extractor  # noqa: E402
from training.trainer.cnn_feature_cache import cnn_outputs, masked_cnn_outputs  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--clips", type=int, default=64)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        write_ctc_checkpoint(REPO / "configs" / "models" / f"{args.preset}.json", folder)
        model, _ = build_classifier(folder)
        extractor, _ = build_feature_extractor(folder)
    model.eval()
    cnn = feature_encoder(model)
    clips = sorted(generated_clips(args.clips, (1.0, 1.6)), key=len)
    batches = [clips[i : i + args.batch] for i in range(0, len(clips), args.batch)]
    independence = make_batch_independent(model)

    ways = {
        "per-clip first layer": lambda b: cnn_outputs(model, extractor, b, independence),
        "masked statistics": lambda b: masked_cnn_outputs(cnn, extractor, b),
        "stock padded": lambda b: cnn_outputs(model, extractor, b),  # no mask: stock forward
    }
    with torch.no_grad():
        exact = [ways["per-clip first layer"](b) for b in batches]
        masked = [ways["masked statistics"](b) for b in batches]
    worst = 0.0
    for batch, a, b in zip(batches, exact, masked, strict=True):
        for row, clip in enumerate(batch):
            frames = int(model.base_model._get_feat_extract_output_lengths(len(clip)))
            reference = a[row, :, :frames]
            difference = (b[row, :, :frames] - reference).abs().max() / reference.abs().max()
            worst = max(worst, float(difference))
    print(f"{args.preset} preset, {args.clips} clips of 1.0-1.6 s, batches of {args.batch}")
    print(f"largest relative difference, masked vs per-clip, real frames: {worst:.2e}")
    for repeat in range(args.repeats):
        for name, way in ways.items():
            wall, cpu = time.perf_counter(), cpu_seconds()
            with torch.no_grad():
                for batch in batches:
                    way(batch)
            print(
                f"repeat {repeat} {name:>22}: {cpu_seconds() - cpu:6.2f} CPU s "
                f"{time.perf_counter() - wall:6.2f} wall s",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
