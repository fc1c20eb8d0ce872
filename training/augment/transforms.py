"""The signal transforms themselves: plain functions of a mono float32 waveform, a sampling rate
and a numpy random generator, so training augmentation and evaluation conditions share them.

Built on numpy's FFT alone rather than audiomentations, torch-audiomentations or pyroomacoustics
(new dependencies) or torchaudio.functional (a dependency already): the transforms are a few
lines each, run one clip at a time in the collator, and take their randomness from the generator
we pass, which makes them reproducible from the training seed. torchaudio's resample, biquads
and fftconvolve were measured 20-50x slower than these in the training process, whose torch
threads the model's step already uses (docs/robustness.md has the numbers).
"""

from __future__ import annotations

import numpy as np

# Telephone channel (ITU-T G.712 voice band): 300-3400 Hz, carried at 8 kHz.
TELEPHONE_BAND = (300.0, 3400.0)
SPEED_FACTORS = (0.9, 1.0, 1.1)  # Kaldi's speed perturbation (Ko et al., 2015)
# Noise colours by the exponent of their power spectrum 1/f^exponent.
NOISE_COLOURS = {"white": 0.0, "pink": 1.0, "brown": 2.0}
_EPS = 1e-12


def power(signal: np.ndarray) -> float:
    """Mean square of the samples (the power the SNR compares)."""
    return float(np.mean(np.square(signal, dtype=np.float64))) if len(signal) else 0.0


def coloured_noise(length: int, exponent: float, rng: np.random.Generator) -> np.ndarray:
    """Gaussian noise whose power spectrum falls as 1/f^exponent (0 white, 1 pink, 2 brown)."""
    spectrum = np.fft.rfft(rng.standard_normal(max(length, 2)))
    frequencies = np.arange(len(spectrum), dtype=np.float64)
    frequencies[0] = 1.0  # keep the DC bin finite; it is removed below
    spectrum = spectrum / frequencies ** (exponent / 2)
    spectrum[0] = 0.0
    noise = np.fft.irfft(spectrum, n=max(length, 2))[:length]
    return (noise / (np.sqrt(power(noise)) + _EPS)).astype(np.float32)


def add_noise(signal: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """`signal` plus `noise` (same length) scaled so that 10 log10(P_signal / P_noise) = snr_db.
    A silent signal is returned unchanged (no SNR can be met)."""
    signal_power, noise_power = power(signal), power(noise)
    if signal_power < _EPS or noise_power < _EPS:
        return signal.astype(np.float32, copy=True)
    scale = np.sqrt(signal_power / (noise_power * 10 ** (snr_db / 10)))
    return (signal + scale * noise).astype(np.float32)


def _fft_length(n: int) -> int:
    """The next power of two at or above n (numpy's FFT is fastest there)."""
    return 1 << max(int(n) - 1, 1).bit_length()


def change_speed(signal: np.ndarray, factor: float, rate: int) -> np.ndarray:
    """Play the clip `factor` times as fast (tempo and pitch together, as Kaldi's speed
    perturbation does): band-limited resampling by FFT from len(signal) to len/factor samples.
    `rate` is unused by the FFT method; kept so every transform reads the same."""
    del rate
    if factor == 1.0 or len(signal) < 2:
        return signal.astype(np.float32, copy=True)
    target = max(int(round(len(signal) / factor)), 1)
    spectrum = np.fft.rfft(signal.astype(np.float64))
    bins = target // 2 + 1
    resized = np.zeros(bins, dtype=complex)
    keep = min(bins, len(spectrum))
    resized[:keep] = spectrum[:keep]  # speeding up drops the top (anti-aliasing by construction)
    return (np.fft.irfft(resized, n=target) * (target / len(signal))).astype(np.float32)


def apply_gain(signal: np.ndarray, gain_db: float) -> np.ndarray:
    """Louder or quieter by `gain_db`, clipped at full scale as a saturating recorder would.
    A normalising feature extractor undoes the level; the clipping of loud gains remains."""
    return np.clip(signal * np.float32(10 ** (gain_db / 20)), -1.0, 1.0).astype(np.float32)


def simulated_room(rate: int, rt60: float, rng: np.random.Generator) -> np.ndarray:
    """A room impulse response from the statistical model of late reverberation: a direct path,
    then Gaussian noise decaying by 60 dB over `rt60` seconds (Polack's model). Not an
    image-method room: no early-reflection geometry, which matters little to a classifier."""
    length = max(int(rt60 * rate), 2)
    t = np.arange(length) / rate
    tail = rng.standard_normal(length) * np.exp(-6.9078 * t / rt60)  # ln(1000) = 60 dB
    tail[: int(0.002 * rate) + 1] = 0.0  # reflections start ~2 ms after the direct sound
    tail *= 0.5 / (np.sqrt(np.sum(tail**2)) + _EPS)  # reverberant energy below the direct path's
    tail[0] = 1.0
    return tail.astype(np.float32)


def reverberate(signal: np.ndarray, impulse: np.ndarray) -> np.ndarray:
    """The clip as heard in the room of `impulse`: convolved, aligned on the impulse's direct
    path (its peak), cut to the clip's length and brought back to the clip's RMS level."""
    if len(signal) == 0:
        return signal.astype(np.float32, copy=True)
    impulse = impulse[int(np.argmax(np.abs(impulse))) :]
    n = _fft_length(len(signal) + len(impulse) - 1)
    wet = np.fft.irfft(np.fft.rfft(signal, n) * np.fft.rfft(impulse, n), n)[: len(signal)]
    level = np.sqrt(power(signal) / (power(wet) + _EPS))
    return (wet * level).astype(np.float32)


def telephone(signal: np.ndarray, rate: int) -> np.ndarray:
    """The clip through a telephone channel: only 300-3400 Hz pass (what an 8 kHz narrow-band
    line carries), with 100 Hz raised-cosine edges so the cut does not ring."""
    if len(signal) < 2:
        return signal.astype(np.float32, copy=True)
    low, high = TELEPHONE_BAND
    n = _fft_length(len(signal))
    spectrum = np.fft.rfft(signal, n)
    frequencies = np.fft.rfftfreq(n, 1 / rate)
    edge = 100.0
    rise = np.clip((frequencies - (low - edge)) / edge, 0, 1)
    fall = np.clip(((high + edge) - frequencies) / edge, 0, 1)
    gain = 0.5 - 0.5 * np.cos(np.pi * np.minimum(rise, fall))
    return np.fft.irfft(spectrum * gain, n)[: len(signal)].astype(np.float32)


def fit_length(noise: np.ndarray, length: int, rng: np.random.Generator) -> np.ndarray:
    """`length` samples of `noise`: a random excerpt, or the noise repeated when it is shorter."""
    if len(noise) >= length:
        start = int(rng.integers(0, len(noise) - length + 1))
        return noise[start : start + length]
    repeats = -(-length // max(len(noise), 1))
    return np.tile(noise, repeats)[:length]
