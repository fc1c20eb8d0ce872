"""The prepare command for label folders and manifests, timed as users run it (issue 17).

Both sides are whole commands in fresh processes: `ser-prepare` (`python -m
data_scripts.corpora.prepare`) with an empty datasets cache, the same command again (a cache
hit that decodes nothing, then save_to_disk into the replaced --output_dir), and the floor: a
script that imports soundfile and torchaudio, decodes, downmixes and resamples every file in a
plain loop (one Resample per source rate) and writes the arrays to one .npy file.

    python bench/bench_corpus_prepare.py --files 120     # a quick look
"""

from __future__ import annotations

import argparse
import csv
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=2452)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench_corpus_prepare_"))
    try:
        paths = make_folder_corpus(work / "mine", args.files)
        manifest = work / "mine" / "clips.csv"
        with open(manifest, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["path", "label", "speaker"])
            for path in paths:
                relative = path.relative_to(work / "mine")
                writer.writerow([relative, relative.parts[0], path.name.split("_")[0]])
        listing = work / "files.txt"
        listing.write_text("\n".join(map(str, paths)))
        python = sys.executable
        floor = timed([python, "-c", FLOOR, str(listing), str(work / "floor.npy")])
        print(f"{platform.processor() or platform.machine()}, {args.files} files of 3-5 s")
        print(f"floor script (imports + loop + write): {floor:.1f} s")
        kinds = {
            "folder": ["--corpus", "folder", "--data_dir", str(work / "mine"),
                       "--speaker_pattern", r"^(spk\d+)_"],
            "manifest": ["--corpus", "manifest", "--manifest", str(manifest)],
        }  # fmt: skip
        for kind, flags in kinds.items():
            command = [python, "-m", "data_scripts.corpora.prepare", *flags,
                       "--output_dir", str(work / f"out_{kind}"),
                       "--cache_dir", str(work / f"cache_{kind}")]  # fmt: skip
            fresh, hit = timed(command), timed(command)
            print(
                f"ser-prepare --corpus {kind}: {fresh:.1f} s ({fresh / floor:.2f}x the floor), "
                f"cache hit {hit:.1f} s"
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
