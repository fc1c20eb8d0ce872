"""FLOPs of a wav2vec2-family classifier, counted from its config, and the utilisation they imply.

One multiply-add is 2 FLOPs. For a clip of S samples (16 kHz), the CNN's layer i (channels
C_{i-1} -> C_i, kernel k_i, stride s_i) gives L_i = floor((L_{i-1} - k_i) / s_i) + 1 frames
(L_0 = S, C_0 = 1) and costs 2 C_{i-1} C_i k_i L_i. With T = L_7 frames (49 per second), d the
hidden size, f the feed-forward size, g the positional convolution's groups and K its kernel:
  feature projection    2 C_7 d T
  positional conv       2 (d / g) d K T
  each of N layers      8 T d^2 (q, k, v, output) + 4 T d f (feed-forward) + 4 T^2 d (attention)
  head                  2 T d P + 2 P E   (projector to P, classifier to E emotions)
Layer norms, activations, softmax and the weighted layer sum are left out (under 1 %).
Training costs 3x the forward (forward, input and weight gradients) for everything after the
CNN; the presets freeze the CNN, so it runs forward only: train = cnn + 3 x rest.
"""

from __future__ import annotations

import torch
from torch.utils.flop_counter import FlopCounterMode
from transformers import AutoModelForAudioClassification

# NVIDIA's dense bf16 tensor-core peak for the H100/H200 SXM (the sparse figure is twice this).
HOPPER_BF16_PEAK_TFLOPS = 989.0


def forward_flops(config, samples: int) -> dict[str, int]:
    """FLOPs of one clip's forward pass: the CNN and the rest (module docstring's formula)."""
    frames, channels, cnn = samples, 1, 0
    for dim, kernel, stride in zip(
        config.conv_dim, config.conv_kernel, config.conv_stride, strict=True
    ):
        frames = (frames - kernel) // stride + 1
        cnn += 2 * channels * dim * kernel * frames
        channels = dim
    d, t = config.hidden_size, frames
    groups, kernel = config.num_conv_pos_embedding_groups, config.num_conv_pos_embeddings
    layer = 8 * t * d * d + 4 * t * d * config.intermediate_size + 4 * t * t * d
    projector = config.classifier_proj_size
    rest = (
        2 * channels * d * t
        + 2 * (d // groups) * d * kernel * t
        + config.num_hidden_layers * layer
        + 2 * t * d * projector
        + 2 * projector * config.num_labels
    )
    return {"cnn": cnn, "rest": rest}


def training_flops(config, lengths: list[int]) -> float:
    """FLOPs of one training pass over clips of these lengths (frozen CNN: forward only)."""
    total = 0
    for samples in lengths:
        parts = forward_flops(config, samples)
        total += parts["cnn"] + 3 * parts["rest"]
    return float(total)


def counted_forward_flops(config, samples: int) -> int:
    """FLOPs that torch's FLOP counter sees in one clip's forward pass: a check of the formula.

    Eager attention, because the counter does not count CPU SDPA kernels (4 T^2 d per layer)."""
    model = AutoModelForAudioClassification.from_config(config, attn_implementation="eager")
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model.eval()(torch.zeros(1, samples))
    return int(counter.get_total_flops())


def peak_tflops(device_name: str | None) -> float | None:
    """The bf16 dense peak of the GPUs we know; None elsewhere (no utilisation is computed)."""
    if device_name and any(name in device_name for name in ("H100", "H200")):
        return HOPPER_BF16_PEAK_TFLOPS
    return None
