"""Write a randomly initialised wav2vec2 CTC checkpoint from a config in configs/models/.

It stands in for the checkpoint a user fine-tuned on TIMIT, in `make demo` and in the tests:
the same file formats (`model.safetensors` or `pytorch_model.bin` plus `config.json`) and the
same tensor names, so the real loading path is exercised.

    python -m training.demo.stand_in_checkpoint --config configs/models/tiny.json --output_dir ckpt
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from safetensors.torch import save_file
from transformers import AutoConfig, Wav2Vec2ForCTC

WEIGHT_FORMATS = {"safetensors": "model.safetensors", "bin": "pytorch_model.bin"}
# Written beside the stand-in's files: only a folder holding it may be overwritten, so a user's
# real checkpoint is never replaced by random weights.
STAND_IN_MARKER = ".stand_in_checkpoint"
CHECKPOINT_FILES = ("config.json", *WEIGHT_FORMATS.values())


def write_ctc_checkpoint(
    config_path: str | Path,
    output_dir: str | Path,
    weights_format: str = "safetensors",
    seed: int = 0,
) -> Path:
    """Save a random CTC model's weights and config; returns the weights file."""
    if weights_format not in WEIGHT_FORMATS:
        raise ValueError(
            f"weights_format {weights_format!r}: choose one of {', '.join(WEIGHT_FORMATS)}"
        )
    torch.manual_seed(seed)
    config = AutoConfig.from_pretrained(config_path, trust_remote_code=False)
    model = Wav2Vec2ForCTC(config)
    output_dir = Path(output_dir)
    present = [name for name in CHECKPOINT_FILES if (output_dir / name).exists()]
    if present and not (output_dir / STAND_IN_MARKER).is_file():
        raise ValueError(
            f"--output_dir {output_dir}: holds a checkpoint that is not a stand-in "
            f"({', '.join(present)}); refusing to overwrite it with random weights"
        )
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / STAND_IN_MARKER).write_text(
        "random weights from training.demo.stand_in_checkpoint\n"
    )
    config.save_pretrained(output_dir)
    weights = output_dir / WEIGHT_FORMATS[weights_format]
    state = {name: tensor.contiguous() for name, tensor in model.state_dict().items()}
    if weights_format == "safetensors":
        save_file(state, str(weights), metadata={"format": "pt"})
    else:
        torch.save(state, weights)
    return weights


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument(
        "--config", required=True, help="a wav2vec2 config.json, e.g. configs/models/tiny.json"
    )
    parser.add_argument("--output_dir", required=True)
    parser.add_argument("--format", choices=sorted(WEIGHT_FORMATS), default="safetensors")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        print(write_ctc_checkpoint(args.config, args.output_dir, args.format, args.seed))
    except ValueError as error:
        parser.exit(1, f"error: {error}\n")


if __name__ == "__main__":
    main()
