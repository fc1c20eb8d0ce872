"""torchaudio's windowed-sinc resampling, computed per output sample instead of from a table.

torchaudio precomputes one filter per output phase: `up` filters of `2 * width + down` taps,
where up/down is the rate ratio in lowest terms. For the usual rates that table is small (44.1
to 16 kHz: 160 x 475), but a rate sharing no factor with 16 kHz makes it enormous: 16001 Hz
needs 16000 x 16015 taps (peak 5 GB while it is built), 1,000,003 Hz 64 GB. Here each output
sample's filter is evaluated where it is needed, with torchaudio's formula (the same window,
cutoff and width), a bounded block of outputs at a time: the cost grows with the output's
length and the filter's width, never with up x down. `audio_decoding.resample` uses it only
where torchaudio's table would be large, so the usual rates keep torchaudio's exact samples.
"""

from __future__ import annotations

import math

import torch

# Filter taps evaluated at once (outputs x taps): about 100 MB of float64 temporaries.
_BLOCK_TAPS = 1 << 21
# torchaudio's default Kaiser beta (`sinc_interp_kaiser` without `beta`).
_KAISER_BETA = 14.769656459379492


def sinc_resample(
    mono: torch.Tensor,
    up: int,
    down: int,
    kept: int,
    lowpass_filter_width: int,
    rolloff: float,
    method: str,
) -> torch.Tensor:
    """The first `kept` samples of `torchaudio.functional.resample(mono, down, up, ...)` (the
    rates in lowest terms), within float rounding: output j sums input samples i near
    j * down / up, weighted by the windowed sinc at i / down - j / up."""
    base = min(up, down) * rolloff
    width = math.ceil(lowpass_filter_width * down / base)
    taps = torch.arange(-width, width + 2, dtype=torch.int64)
    # Zeros around the signal, as torchaudio pads it, so every tap indexes a sample.
    padded = torch.nn.functional.pad(mono.to(torch.float64), (width + 1, width + 2))
    out = torch.empty(kept, dtype=torch.float32)
    block = max(1, _BLOCK_TAPS // len(taps))
    for first in range(0, kept, block):
        j = torch.arange(first, min(first + block, kept), dtype=torch.int64)
        inputs = (j * down // up)[:, None] + taps[None, :]
        # t = (i / down - j / up) * base, from an exact integer numerator.
        t = (inputs * up - j[:, None] * down).to(torch.float64) * (base / (up * down))
        t = t.clamp(-lowpass_filter_width, lowpass_filter_width)
        if method == "sinc_interp_hann":
            window = torch.cos(t * (math.pi / lowpass_filter_width / 2)) ** 2
        elif method == "sinc_interp_kaiser":
            beta = torch.tensor(_KAISER_BETA, dtype=torch.float64)
            window = torch.i0(beta * torch.sqrt(1 - (t / lowpass_filter_width) ** 2)) / torch.i0(
                beta
            )
        else:
            raise ValueError(f"unknown resampling method {method!r}")
        t = t * math.pi
        sinc = torch.where(t == 0, torch.ones_like(t), torch.sin(t) / t)
        weights = sinc * window * (base / down)
        samples = padded[inputs + width + 1]
        out[first : first + len(j)] = (samples * weights).sum(dim=1).to(torch.float32)
    return out
