"""Harder sample voices: the defaults stay bit for bit, the variation does what it says."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from data_scripts.corpora.ravdess.sample_archives import synthesize, write_sample_archives
from data_scripts.corpora.ravdess.voice_variation import HARD, VoiceVariation, add_background, draw

# sha256 of synthesize(name, (1.0, 1.6), 0) written by the generator before variations existed:
# every archive, test and benchmark built on the default voices keeps its audio.
DEFAULT_VOICE_SHA256 = {
    "03-01-05-02-01-01-07.wav": "73daec011e37e0340c866e11732cbd0fa139b39773ca930f2d3f9dc34f91285b",
    "03-02-03-01-02-02-12.wav": "bdf13ff34807d0a544b4b7ded4c6b59f5cdbf56f818528afbd358eabe04af251",
}


@pytest.mark.parametrize("name", sorted(DEFAULT_VOICE_SHA256))
@pytest.mark.parametrize("variation", [None, VoiceVariation()])
def test_default_voices_are_unchanged(name, variation):
    audio = synthesize(name, (1.0, 1.6), 0, variation)
    assert hashlib.sha256(audio.tobytes()).hexdigest() == DEFAULT_VOICE_SHA256[name]


def test_background_noise_sits_at_the_asked_snr():
    rng = np.random.default_rng(1)
    voice = 0.3 * np.sin(2 * np.pi * 180 * np.arange(48_000) / 48_000) * rng.uniform(0.5, 1)
    noisy = add_background(voice, 6.0, "a.wav", 0, 48_000)
    noise = noisy - voice
    snr = 10 * np.log10(np.mean(voice**2) / np.mean(noise**2))
    assert snr == pytest.approx(6.0, abs=0.01)


def test_speaker_traits_are_shared_by_a_speakers_files_and_differ_between_speakers():
    one = draw(HARD, 3, "03-01-01-01-01-01-03.wav", 0)
    same_speaker = draw(HARD, 3, "03-01-05-02-02-01-03.wav", 0)
    other_speaker = draw(HARD, 4, "03-01-01-01-01-01-04.wav", 0)
    assert one.tilt == same_speaker.tilt != other_speaker.tilt
    low, high = HARD.speaker_tilt
    assert low <= one.tilt <= high and low <= other_speaker.tilt <= high


def test_hard_voices_spread_speakers_pitch_wider_than_the_defaults():
    # The defaults move a speaker's pitch by at most 16 % (4 % steps); HARD by up to 6 semitones
    # (41 %) plus 3 per utterance: over 24 speakers the drawn pitch factors span well past that.
    factors = [draw(HARD, speaker, f"x{speaker}.wav", 0).pitch for speaker in range(1, 25)]
    assert max(factors) / min(factors) > 1.5
    assert all(2 ** (-9 / 12) <= f <= 2 ** (9 / 12) for f in factors)


def test_hard_archives_differ_from_the_default_ones(tmp_path):
    default = write_sample_archives(tmp_path / "default", actors=[1])
    hard = write_sample_archives(tmp_path / "hard", actors=[1], variation=HARD)
    assert default["speech"].md5 != hard["speech"].md5
    assert default["speech"].files == hard["speech"].files == 60
