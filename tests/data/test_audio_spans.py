"""Decoding a long file stretch by stretch (soundfile seeks) gives the whole file's samples."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile

from data_scripts.common.audio_decoding import AudioDecodeError, DecodeSettings, decode_audio
from data_scripts.common.audio_spans import SpanDecoder

SETTINGS = DecodeSettings(16_000)


@pytest.mark.parametrize(
    ("rate", "channels", "subtype"),
    [(44_100, 2, "PCM_16"), (48_000, 2, "PCM_24"), (22_050, 1, "FLOAT"), (16_000, 1, "PCM_16")],
)
def test_stretches_equal_whole_file_decoding(tmp_path, rate, channels, subtype):
    rng = np.random.default_rng(rate)
    signal = (0.3 * rng.standard_normal((rate * 12, channels))).astype(np.float32)
    path = tmp_path / "long.wav"
    soundfile.write(path, signal, rate, subtype=subtype)
    whole = decode_audio(path, SETTINGS)
    with SpanDecoder(path, SETTINGS) as decoder:
        assert decoder.length == len(whole)
        starts = [0, 1, 8_000, 33_333, 100_001, len(whole) - 16_000, len(whole) - 5]
        for start in starts:
            stretch = decoder.read(start, start + 16_000)
            expected = whole[start : start + 16_000]
            assert len(stretch) == len(expected)
            np.testing.assert_allclose(stretch, expected, atol=1e-6, rtol=0)


def test_a_file_whose_frames_run_out_early_is_named(tmp_path):
    """A FLAC cut short: its header still promises every frame."""
    path = tmp_path / "cut.flac"
    soundfile.write(path, np.random.default_rng(0).uniform(-0.5, 0.5, 48_000 * 6), 48_000)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(AudioDecodeError, match=f"^{path}: "):
        with SpanDecoder(path, SETTINGS) as decoder:
            for start in range(0, decoder.length, 16_000):
                decoder.read(start, start + 16_000)


def test_reading_a_stretch_reads_only_that_stretch(tmp_path):
    """Memory follows the stretch, not the file: a second of a minute-long 48 kHz stereo file
    allocates a small fraction of what the whole file's samples take (23 MB as float32)."""
    import tracemalloc

    path = tmp_path / "minute.wav"
    rng = np.random.default_rng(1)
    signal = (0.3 * rng.standard_normal((48_000 * 60, 2))).astype(np.float32)
    soundfile.write(path, signal, 48_000, subtype="PCM_16")
    del signal
    with SpanDecoder(path, SETTINGS) as decoder:
        decoder.read(0, 16_000)  # the resampler is built once, outside the measurement
        tracemalloc.start()
        stretch = decoder.read(30 * 16_000, 31 * 16_000)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert len(stretch) == 16_000
    assert peak < 2_000_000, peak


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_nan_or_infinite_samples_are_refused_naming_the_file_and_time(tmp_path, bad):
    """One such sample in a float file would make every training loss NaN; predict used to blame
    the clip's length ("non-finite scores (clip too short?)")."""
    rng = np.random.default_rng(3)
    signal = (0.3 * rng.standard_normal((48_000 * 3, 2))).astype(np.float32)
    signal[60_000, 1] = bad  # right channel, 1.250 s
    path = tmp_path / "damaged.wav"
    soundfile.write(path, signal, 48_000, subtype="FLOAT")
    message = (
        f"{path}: holds NaN or infinite samples (the first at 1.250 s): the file is damaged; "
        "export it again or leave it out"
    )
    with pytest.raises(AudioDecodeError) as caught:
        decode_audio(path, SETTINGS)
    assert str(caught.value) == message
    with SpanDecoder(path, SETTINGS) as decoder:
        assert np.isfinite(decoder.read(0, 16_000)).all()  # the first second is whole
        with pytest.raises(AudioDecodeError) as caught:
            decoder.read(16_000, 32_000)
        assert str(caught.value) == message
    signal[60_000, 1] = 0.0
    soundfile.write(path, signal, 48_000, subtype="FLOAT")
    assert np.isfinite(decode_audio(path, SETTINGS)).all()
