"""The prepare commands, timed as users run them, for every corpus kind.

Both sides are whole commands in fresh processes: the prepare command (`python -m
data_scripts.corpora.prepare`, or `python -m data_scripts.ravdess` for RAVDESS) with an empty
datasets cache, the same command again (a cache hit: the --output_dir already holds the build),
the command into a new --output_dir (a cache hit that still writes a folder), and the floor: a
script that imports soundfile and torchaudio, decodes, downmixes and resamples every file in a
plain loop (one Resample per source rate) and writes the arrays to one .npy file.

    python bench/bench_corpus_prepare.py                # 2452 files (RAVDESS's size)
    python bench/bench_corpus_prepare.py --files 240    # a quick look

The corpora are one set of synthetic voices (3-5 s, 16, 22.05, 44.1 and 48 kHz mixed), hard-linked
under each corpus's own layout and file names (SAVEE and EmoDB at their real sizes, 480 and 535
files, which is all their naming allows); RAVDESS is the synthetic archives, downloaded-and-mapped
by the real code.
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from data_scripts.corpora.ravdess.sample_archives import write_voice_file  # noqa: E402

EMOTIONS = ("angry", "happy", "sad", "neutral", "fearful", "disgust")
RATES = (16_000, 22_050, 44_100, 48_000)
FLOOR = """
import sys, numpy as np, soundfile as sf, torch, torchaudio.transforms as T
files = open(sys.argv[1]).read().split()
resamplers, out = {}, []
for path in files:
    samples, rate = sf.read(path, dtype="float32", always_2d=True)
    mono = torch.from_numpy(samples.mean(axis=1))
    if rate != 16000:
        if rate not in resamplers:
            resamplers[rate] = T.Resample(rate, 16000, lowpass_filter_width=6, rolloff=0.99)
        mono = resamplers[rate](mono)
    out.append(mono.numpy())
np.save(sys.argv[2], np.concatenate(out))
"""


def make_folder_corpus(root: Path, files: int) -> list[Path]:
    paths = []
    for index in range(files):
        emotion = EMOTIONS[index % len(EMOTIONS)]
        path = root / emotion / f"spk{index % 8}_{index:05d}.wav"
        rate = RATES[index % len(RATES)]
        write_voice_file(path, emotion, index % 2 == 0, index % 8, sampling_rate=rate,
                         seconds=(3.0, 5.0))  # fmt: skip
        paths.append(path)
    return paths


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=REPO, check=True, capture_output=True, text=True)
    return time.perf_counter() - start


def _link(source: Path, target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    os.link(source, target)
    return target


def corpus_layouts(work: Path, voices: list[Path]) -> dict[str, tuple[list[str], list[Path]]]:
    """{kind: (prepare flags, audio files)}: the voices under each corpus's layout and names."""
    from data_scripts.corpora import crema_d, emodb, savee, tess

    layouts: dict[str, tuple[list[str], list[Path]]] = {}
    root = work / "mine"
    manifest = root / "clips.csv"
    with open(manifest, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["path", "label", "speaker"])
        for path in voices:
            relative = path.relative_to(root)
            writer.writerow([relative, relative.parts[0], path.name.split("_")[0]])
    layouts["folder"] = (["--corpus", "folder", "--data_dir", str(root), "--speaker_pattern",
                          r"^(spk\d+)_"], voices)  # fmt: skip
    layouts["manifest"] = (["--corpus", "manifest", "--manifest", str(manifest)], voices)
    sentences, codes, levels = list(crema_d.SENTENCES), list(crema_d.EMOTION_CODES), ["XX", "HI"]
    files = []
    for i, voice in enumerate(voices):
        actor, rest = 1001 + i % 91, i // 91
        name = (
            f"{actor}_{sentences[rest % 12]}_{codes[rest // 12 % 6]}_{levels[rest // 72 % 2]}.wav"
        )
        files.append(_link(voice, work / "crema_d" / "AudioWAV" / name))
    layouts["crema_d"] = (["--corpus", "crema_d", "--data_dir", str(work / "crema_d")], files)
    words, files = list(tess.EMOTION_WORDS), []
    for i, voice in enumerate(voices):
        speaker, word = ("OAF", "YAF")[i % 2], words[i // 2 % len(words)]
        name = f"{speaker}_w{i}_{word}.wav"
        files.append(_link(voice, work / "tess" / f"{speaker}_{word}" / name))
    layouts["tess"] = (["--corpus", "tess", "--data_dir", str(work / "tess")], files)
    counts = savee.SENTENCES_PER_CODE.items()
    names = [f"{speaker}_{code}{n:02d}.wav" for speaker in savee.SPEAKERS
             for code, count in counts for n in range(1, count + 1)]  # fmt: skip
    files = [_link(v, work / "savee" / n) for v, n in zip(voices, names, strict=False)]
    layouts["savee"] = (["--corpus", "savee", "--data_dir", str(work / "savee")], files)
    names = [f"{speaker}{text}{letter}{version}.wav" for version in "abcdef"
             for speaker in emodb.SPEAKER_GENDERS for text in emodb.TEXTS
             for letter in emodb.EMOTION_LETTERS][: emodb.FACTS.expected_files]  # fmt: skip
    files = [_link(v, work / "emodb" / "wav" / n) for v, n in zip(voices, names, strict=False)]
    layouts["emodb"] = (["--corpus", "emodb", "--data_dir", str(work / "emodb")], files)
    return layouts


def ravdess_layout(work: Path) -> tuple[list[str], list[Path]]:
    """The synthetic RAVDESS archives (24 actors, all 2452 files, whatever --files says),
    downloaded-and-mapped; flags and files."""
    from bench_support import make_corpus

    data_dir = make_corpus(work / "ravdess", list(range(1, 25)), (3.0, 5.0))
    return ["--data_dir", str(data_dir)], sorted(data_dir.rglob("*.wav"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=2452)
    parser.add_argument("--kinds", nargs="*", default=None, help="default: all")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench_corpus_prepare_"))
    python = sys.executable
    try:
        voices = make_folder_corpus(work / "mine", args.files)
        layouts = corpus_layouts(work, voices)
        layouts["ravdess"] = ravdess_layout(work)
        print(f"{platform.processor() or platform.machine()}; kind, files, floor, fresh, hit "
              "(same --output_dir), hit (new --output_dir)")  # fmt: skip
        for kind, (flags, files) in layouts.items():
            if args.kinds and kind not in args.kinds:
                continue
            listing = work / f"{kind}_files.txt"
            listing.write_text("\n".join(map(str, files)))
            floor = timed([python, "-c", FLOOR, str(listing), str(work / "floor.npy")])
            module = "data_scripts.ravdess" if kind == "ravdess" else "data_scripts.corpora.prepare"
            command = [python, "-m", module, *flags, "--cache_dir", str(work / f"cache_{kind}")]
            out, new = (
                ["--output_dir", str(work / f"out_{kind}")],
                ["--output_dir", str(work / f"new_{kind}")],
            )
            fresh, hit, hit_new = timed(command + out), timed(command + out), timed(command + new)
            print(f"| {kind} | {len(files)} | {floor:.1f} | {fresh:.1f} ({fresh / floor:.2f}x) | "
                  f"{hit:.2f} | {hit_new:.2f} |", flush=True)  # fmt: skip
            shutil.rmtree(work / f"cache_{kind}", ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
