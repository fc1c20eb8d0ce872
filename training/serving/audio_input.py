"""Audio as it arrives, turned into the samples predict would decode from the same recording in
a file: raw PCM bytes (standard input, a pipe, a file of raw samples), an audio file read block
by block, or the microphone.

The channel average and the 16-bit conversion are the decoder's own
(data_scripts.common.audio_decoding), and resampling is `StreamResampler`, which gives the whole
recording's torchaudio resampling piece by piece: output samples [a, b) only read the input from
a filter width and a whole period before a's period to the same after b's (the reasoning of
data_scripts.common.audio_spans), so each piece is produced once that much input has arrived.
"""

from __future__ import annotations

import math
import os
import queue
from collections.abc import Iterator

import numpy as np
import soundfile
import torch

from data_scripts.common.audio_decoding import (
    DecodeSettings,
    _mono,
    _pcm16_mono,
    refuse_impossible_samples,
    resample,
)
from training.serving.serving_options import FORMATS  # ffmpeg's names: numpy type, bytes

READ_BYTES = 16_384  # a pipe hands over what it has, at most this much per read
MIC_BLOCK_SECONDS = 0.1


class StreamResampler:
    """Mono float32 at `source_rate` in, the same samples as resampling the whole recording
    (data_scripts.common.audio_decoding.resample) out, as soon as they are determined."""

    def __init__(self, source_rate: int, settings: DecodeSettings):
        self.source_rate, self.settings = source_rate, settings
        divisor = math.gcd(source_rate, settings.target_sampling_rate)
        self._up = settings.target_sampling_rate // divisor
        self._down = source_rate // divisor
        # The span decoder's margin: torchaudio's kernel half-width, then whole periods.
        base = min(self._down, self._up) * settings.rolloff
        width = math.ceil(settings.lowpass_filter_width * self._down / base)
        self._context = self._down * (math.ceil(width / self._down) + 2)
        self._held = np.zeros(0, dtype=np.float32)
        self._origin = 0  # input index of _held[0]
        self._frames = 0  # input samples received
        self._done = 0  # output samples given

    def push(self, mono: np.ndarray) -> np.ndarray:
        """Add input; return the output samples it completes."""
        if self._up == self._down:
            return mono
        self._held = np.concatenate([self._held, mono])
        self._frames += len(mono)
        ready = (self._frames - self._context) // self._down * self._up
        return self._produce(ready)

    def finish(self) -> np.ndarray:
        """The input ended: the rest, to torchaudio's output length (a float32 ceil)."""
        if self._up == self._down:
            return np.zeros(0, dtype=np.float32)
        return self._produce(int(torch.ceil(torch.as_tensor(self._up * self._frames / self._down))))

    def _produce(self, stop: int) -> np.ndarray:
        start = self._done
        if stop <= start:
            return np.zeros(0, dtype=np.float32)
        read_start = max(start // self._up * self._down - self._context, 0)
        read_stop = min(-(-stop // self._up) * self._down + self._context, self._frames)
        piece = self._held[read_start - self._origin : read_stop - self._origin]
        with torch.inference_mode():
            resampled = resample(torch.from_numpy(piece), self.source_rate, self.settings)
        offset = read_start // self._down * self._up
        out = np.ascontiguousarray(resampled[start - offset : stop - offset].numpy())
        self._done = stop
        # Keep only the input the next piece reads.
        keep = max(stop // self._up * self._down - self._context, 0)
        self._held = self._held[keep - self._origin :]
        self._origin = keep
        return out


class PcmDecoder:
    """Raw interleaved little-endian PCM bytes to mono float32 at the model's rate."""

    def __init__(self, sample_format: str, rate: int, channels: int, settings: DecodeSettings,
                 name: str = "<stdin>"):  # fmt: skip
        if sample_format not in FORMATS:
            raise ValueError(f"--format {sample_format}: choose one of {', '.join(FORMATS)}")
        if rate < 1 or channels < 1:
            raise ValueError(f"--sample_rate {rate} --channels {channels}: give positive numbers")
        self._type, width = FORMATS[sample_format]
        self._frame_bytes = width * channels
        self.channels, self.rate, self.name = channels, rate, name
        self._pending = b""
        self._frames = 0
        self._resampler = StreamResampler(rate, settings)

    def push(self, data: bytes) -> np.ndarray:
        data = self._pending + data
        whole = len(data) // self._frame_bytes * self._frame_bytes
        self._pending = data[whole:]
        if not whole:
            return np.zeros(0, dtype=np.float32)
        frames = np.frombuffer(data[:whole], dtype=self._type).reshape(-1, self.channels)
        if self._type == "<i2":
            mono = _pcm16_mono(frames.astype(np.int16))
        else:
            mono = _mono(frames.astype(np.float32))
            refuse_impossible_samples(mono, self.name, self._frames, self.rate)
        self._frames += len(frames)
        return self._resampler.push(mono)

    def finish(self) -> np.ndarray:
        """The stream ended (a trailing partial frame, from a cut stream, is dropped)."""
        return self._resampler.finish()


def raw_pieces(fd: int, decoder: PcmDecoder) -> Iterator[np.ndarray]:
    """Samples from a file descriptor of raw PCM, as each read returns, then the rest."""
    while True:
        data = os.read(fd, READ_BYTES)
        if not data:
            break
        yield decoder.push(data)
    yield decoder.finish()


def file_pieces(path: str, settings: DecodeSettings, block_seconds: float = 1.0):
    """Samples of an audio file libsndfile reads, block by block, decoded as predict decodes
    it (16-bit files through the integer path, channel average, resampling)."""
    with soundfile.SoundFile(path) as sound:
        resampler = StreamResampler(sound.samplerate, settings)
        block = max(int(sound.samplerate * block_seconds), 1)
        first = 0
        while True:
            if sound.subtype == "PCM_16":
                mono = _pcm16_mono(sound.read(block, dtype="int16", always_2d=True))
            else:
                mono = _mono(sound.read(block, dtype="float32", always_2d=True))
                refuse_impossible_samples(mono, path, first, sound.samplerate)
            if not len(mono):
                break
            first += len(mono)
            yield resampler.push(mono)
    yield resampler.finish()


def microphone_pieces(settings: DecodeSettings) -> Iterator[np.ndarray]:
    """Samples from the default input device until Ctrl-C. ValueError in one line when
    PortAudio or an input device is missing."""
    try:
        import sounddevice
    except (ImportError, OSError) as error:
        raise ValueError(
            f"no microphone: sounddevice/PortAudio is not available ({error}); "
            "install it (pip install '.[serve]', apt-get install libportaudio2) or pipe "
            "audio in with --input -"
        ) from error
    try:
        device = sounddevice.query_devices(kind="input")
        rate = int(device["default_samplerate"])
    except (sounddevice.PortAudioError, ValueError) as error:
        raise ValueError(f"no microphone: {error}; pipe audio in with --input -") from error
    blocks: queue.Queue[np.ndarray] = queue.Queue()

    def heard(indata, frames, time, status) -> None:  # PortAudio's thread
        blocks.put(_mono(np.array(indata, dtype=np.float32)))

    try:
        stream = sounddevice.InputStream(
            samplerate=rate, channels=1, dtype="float32", callback=heard,
            blocksize=int(rate * MIC_BLOCK_SECONDS),
        )  # fmt: skip
    except sounddevice.PortAudioError as error:
        raise ValueError(f"no microphone: {error}; pipe audio in with --input -") from error
    return _listen(stream, blocks, StreamResampler(rate, settings))


def _listen(stream, blocks: queue.Queue, resampler: StreamResampler) -> Iterator[np.ndarray]:
    with stream:
        while True:
            yield resampler.push(blocks.get())
