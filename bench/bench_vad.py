"""Voice-activity detection as predict uses it (training.inference.vad, silero VAD): which
windows it calls speech on speech with pauses, silence, noise, a bell and music, and how fast.

    python bench/bench_vad.py

Speech with pauses is espeak-ng's (apt-get install espeak-ng; skipped without it): sentences
with 1-4 s of silence between them, so the truth is known. Windows are predict's defaults for a
RAVDESS model (3.7 s, one after another); a window is truly speech when the sentences cover at least
half of it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile
import torch
import torchaudio

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from data_scripts.corpora.ravdess.sample_archives import SOURCE_SAMPLING_RATE, synthesize  # noqa: E402
from training.inference.vad import SileroVad  # noqa: E402
from training.inference.windows import window_starts  # noqa: E402

RATE = 16_000
WINDOW = HOP = round(3.7 * RATE)
SENTENCES = (
    "I can't believe you did that again, after everything we talked about.",
    "Well, the weather was lovely this morning, so we walked to the market.",
    "Please put the report on my desk before you leave tonight.",
    "Oh no, I think I left the keys inside the car.",
    "That is the best news I have heard all year!",
    "We will meet again on Thursday at the usual place.",
)


def _resample(samples: np.ndarray, rate: int) -> np.ndarray:
    return torchaudio.functional.resample(torch.from_numpy(samples), rate, RATE).numpy()


def espeak_with_pauses() -> tuple[np.ndarray, np.ndarray] | None:
    """(samples, truth per sample) of espeak-ng sentences with pauses, or None without it."""
    if not shutil.which("espeak-ng"):
        return None
    rng = np.random.default_rng(0)
    parts, truth = [], []
    with tempfile.TemporaryDirectory() as folder:
        for index, sentence in enumerate(SENTENCES * 2):
            wav = Path(folder) / f"{index}.wav"
            voice = ("en", "en-us", "en+f3", "en+m3")[index % 4]
            subprocess.run(["espeak-ng", "-v", voice, "-w", str(wav), sentence], check=True)
            speech, rate = soundfile.read(wav, dtype="float32")
            speech = _resample(speech, rate)
            pause = np.zeros(int(rng.uniform(1.0, 4.0) * RATE), np.float32)
            parts += [speech, pause]
            truth += [np.abs(speech) > 0, np.zeros(len(pause), bool)]
    # espeak's own leading/trailing silence is not speech: smooth the truth over 0.3 s gaps.
    samples, truth = np.concatenate(parts), np.concatenate(truth)
    return samples, _fill_gaps(truth, int(0.3 * RATE))


def _fill_gaps(mask: np.ndarray, gap: int) -> np.ndarray:
    filled = mask.copy()
    on = np.flatnonzero(mask)
    for a, b in zip(on[:-1], on[1:], strict=True):
        if 1 < b - a <= gap:
            filled[a:b] = True
    return filled


def sounds() -> dict[str, np.ndarray]:
    """Non-speech test sounds, 30 s each, and the sample's synthetic voices."""
    rng = np.random.default_rng(1)
    t = np.arange(30 * RATE) / RATE
    white = rng.standard_normal(len(t)).astype(np.float32)
    brown = np.cumsum(white)
    brown = (brown - np.convolve(brown, np.ones(400) / 400, mode="same")).astype(np.float32)
    burst = np.zeros(len(t), np.float32)
    for start in range(2, 30, 6):
        burst[start * RATE : start * RATE + RATE // 2] = 0.5 * white[: RATE // 2]
    bell = np.zeros(len(t))
    for start in range(0, 30, 5):
        tail = t[: 5 * RATE]
        ring = sum(np.sin(2 * np.pi * f * tail) * np.exp(-tail * d)
                   for f, d in ((523, 1.2), (1247, 2.0), (1865, 3.1), (2711, 4.5)))  # fmt: skip
        bell[start * RATE : (start + 5) * RATE] = 0.2 * ring
    chords = ((262, 330, 392), (220, 277, 330), (175, 220, 262), (196, 247, 294))
    music = np.zeros(len(t))
    for beat in range(60):
        notes, span = chords[(beat // 4) % 4], slice(beat * RATE // 2, (beat + 1) * RATE // 2)
        local = t[span] - t[span][0]
        music[span] = sum(np.sin(2 * np.pi * f * local) for f in notes) * np.exp(-3 * local) / 4
        music[span] += 0.3 * np.sin(2 * np.pi * notes[0] / 2 * local)  # bass
    voices = []
    for emotion in ("01", "02", "03", "04", "05", "06", "07", "08"):
        intensity = "01" if emotion == "01" else "02"
        voice = synthesize(f"03-01-{emotion}-{intensity}-01-01-01.wav", (3.5, 3.5))
        voices.append(_resample(voice if voice.ndim == 1 else voice.mean(axis=1),
                                SOURCE_SAMPLING_RATE))  # fmt: skip
    return {
        "digital silence": np.zeros(len(t), np.float32),
        "noise floor (-60 dBFS)": 0.001 * white,
        "white noise (-20 dBFS)": 0.1 * white,
        "brown noise": (0.1 * brown / brown.std()).astype(np.float32),
        "noise bursts (0.5 s every 6 s)": burst,
        "bell (every 5 s)": bell.astype(np.float32),
        "music (chords and bass)": music.astype(np.float32),
        "synthetic voices (sample, 8 emotions)": np.concatenate(voices),
    }


def windows_called_speech(vad: SileroVad, samples: np.ndarray) -> tuple[np.ndarray, float]:
    starts = window_starts(len(samples), WINDOW, HOP)
    began = time.perf_counter()
    speech = vad.speech(samples, starts, WINDOW)
    return speech, time.perf_counter() - began


def main() -> None:
    vad = SileroVad(RATE)
    print("| recording | seconds | windows | called speech | VAD x real time |")
    print("|---|---|---|---|---|")
    spoken = espeak_with_pauses()
    if spoken is None:
        print("(espeak-ng not installed: speech with pauses skipped)")
    else:
        samples, truth = spoken
        speech, seconds = windows_called_speech(vad, samples)
        starts = window_starts(len(samples), WINDOW, HOP)
        true = np.array([truth[s : s + WINDOW].mean() >= 0.5 for s in starts])
        hits = int((speech & true).sum())
        recall, precision = hits / true.sum(), hits / max(speech.sum(), 1)
        print(f"| espeak-ng speech with 1-4 s pauses | {len(samples) / RATE:.0f} | {len(starts)} "
              f"| {speech.sum()} (truly speech {true.sum()}; recall {recall:.2f}, "
              f"precision {precision:.2f}) | {len(samples) / RATE / seconds:.0f} |")  # fmt: skip
    for name, samples in sounds().items():
        speech, seconds = windows_called_speech(vad, samples)
        print(f"| {name} | {len(samples) / RATE:.0f} | {len(speech)} | {speech.sum()} "
              f"| {len(samples) / RATE / seconds:.0f} |")  # fmt: skip


if __name__ == "__main__":
    main()
