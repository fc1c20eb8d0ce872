"""Decode a stretch of a long file, reading only that stretch: the same samples as decoding the
whole file with `audio_decoding.decode_audio` (within float rounding), in bounded memory.

torchaudio's resampler turns every `down` input samples into `up` output samples (the rates
divided by their gcd), each output reading at most the filter's width plus one period of input
on either side. So output samples [a, b) need input from a whole period before a's period to a
whole period after b's, plus the filter width: the decoder seeks there (soundfile), reads that,
resamples it with `audio_decoding.resample` and keeps [a, b). Where the stretch reaches the
file's start or end, torchaudio's zero padding there is the whole file's too.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from data_scripts.common.audio_decoding import (
    AudioDecodeError,
    DecodeSettings,
    _mono,
    _pcm16_mono,
    check_opened,
    refuse_impossible_samples,
    resample,
)
from data_scripts.common.declared_length import declared_frames


class SpanDecoder:
    """An open audio file whose decoded samples (mono, at the settings' rate) are read by span.

    Refuses, naming the file, what `decode_audio` refuses (undecodable, cut short, empty, a rate
    no recording uses, impossible samples), except length: only a stretch is ever decoded.
    Use as a context manager (it holds the file open).
    """

    def __init__(self, path: str | Path, settings: DecodeSettings):
        self.name = str(path)
        self.settings = settings
        try:
            self._handle = open(path, "rb")
        except OSError as error:
            raise AudioDecodeError(f"{path}: cannot read ({error.strerror or error})") from error
        try:
            declared = declared_frames(self._handle)
            self._sound = sf.SoundFile(self._handle)
        except (sf.LibsndfileError, RuntimeError) as error:
            self._handle.close()
            raise AudioDecodeError(f"{path}: cannot decode audio ({error})") from error
        self.frames = self._sound.frames
        self.source_rate = self._sound.samplerate
        try:
            check_opened(self._sound, declared, self.name)
        except AudioDecodeError:
            self.close()
            raise
        divisor = math.gcd(self.source_rate, settings.target_sampling_rate)
        self._up = settings.target_sampling_rate // divisor
        self._down = self.source_rate // divisor
        # torchaudio's kernel half-width in input samples (_get_sinc_resample_kernel), then
        # whole periods around it.
        base = min(self._down, self._up) * settings.rolloff
        width = math.ceil(settings.lowpass_filter_width * self._down / base)
        self._context = self._down * (math.ceil(width / self._down) + 2)
        # Output length as torchaudio rounds it (a float32 ceil), as decode_audio keeps it.
        self.length = int(torch.ceil(torch.as_tensor(self._up * self.frames / self._down)))

    def __enter__(self) -> SpanDecoder:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._sound.close()
        self._handle.close()

    @property
    def seconds(self) -> float:
        return self.length / self.settings.target_sampling_rate

    def _read(self, start: int, stop: int) -> np.ndarray:
        """Mono float32 input frames [start, stop), downmixed as decode_audio downmixes."""
        self._sound.seek(start)
        try:
            if self._sound.subtype == "PCM_16":
                block = self._sound.read(stop - start, dtype="int16", always_2d=True)
                mono = _pcm16_mono(block)
            else:
                mono = _mono(self._sound.read(stop - start, dtype="float32", always_2d=True))
                refuse_impossible_samples(mono, self.name, start, self.source_rate)
        except (sf.LibsndfileError, RuntimeError) as error:
            raise AudioDecodeError(f"{self.name}: cannot decode audio ({error})") from error
        if len(mono) < stop - start:
            raise AudioDecodeError(
                f"{self.name}: ends early: {start + len(mono)} of {self.frames} frames readable"
            )
        return mono

    def read(self, start: int, stop: int) -> np.ndarray:
        """Decoded samples [start, stop) (output rate), clipped to the file's length."""
        stop = min(stop, self.length)
        if start >= stop:
            return np.zeros(0, dtype=np.float32)
        if self._up == self._down:
            return np.ascontiguousarray(self._read(start, stop))
        first_period, end_period = start // self._up, -(-stop // self._up)
        read_start = max(first_period * self._down - self._context, 0)
        read_stop = min(end_period * self._down + self._context, self.frames)
        mono = self._read(read_start, read_stop)
        with torch.inference_mode():
            resampled = resample(torch.from_numpy(mono), self.source_rate, self.settings)
        offset = read_start // self._down * self._up
        return np.ascontiguousarray(resampled[start - offset : stop - offset].numpy())
