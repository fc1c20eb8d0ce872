"""Predict's inputs and outputs as a new user meets them: the sound files of a desktop (chosen by
what libsndfile opens), and result paths that must never replace a recording."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch
from model_helpers import save_tiny_classifier

from training.inference.predict import main

RATE = 16_000


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    return save_tiny_classifier(
        tmp_path_factory.mktemp("model"), return_attention_mask=False, feat_extract_norm="group"
    )


def _tone(seconds: float, rate: int, frequency: float) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.3 * np.sin(2 * np.pi * frequency * t)).astype(np.float32)


def _main(model_dir: Path, *arguments: str) -> int:
    """The command in this process (its refusals come before any model is loaded)."""
    return main(["--model_dir", str(model_dir), "--device", "cpu", "--vad", "none", *arguments])


def _desktop_sounds(folder: Path) -> list[str]:
    """Files of the kinds a Linux desktop's sound theme holds, written by libsndfile itself."""
    folder.mkdir()
    written = {
        "prompt.oga": dict(format="OGG", subtype="VORBIS"),
        "bell.opus": dict(format="OGG", subtype="OPUS"),
        "alert.aiff": dict(format="AIFF"),
        "beep.au": dict(format="AU"),
        "chime.caf": dict(format="CAF"),
        "ring.wav": dict(format="WAV", subtype="PCM_16"),
    }
    if "MP3" in soundfile.available_formats():
        written["voice.mp3"] = dict(format="MP3")
    for index, (name, options) in enumerate(sorted(written.items())):
        soundfile.write(folder / name, _tone(0.6, 48_000, 300 + 50 * index), 48_000, **options)
    # A WAV without an extension: libsndfile opens it, so it is audio too.
    shutil.copy(folder / "ring.wav", folder / "ringtone")
    (folder / "index.theme").write_text("[Sound Theme]\nName=test\n")
    return sorted([*written, "ringtone"])


def test_every_file_libsndfile_opens_is_classified_and_only_the_rest_skipped(
    model_dir, tmp_path, caplog
):
    names = _desktop_sounds(tmp_path / "sounds")
    json_path = tmp_path / "out.json"
    assert _main(model_dir, str(tmp_path / "sounds"), "--json", str(json_path)) == 0
    classified = sorted(Path(r["file"]).name for r in json.loads(json_path.read_text())["results"])
    assert classified == names
    assert "skipped 1 files that are not audio" in caplog.text and "index.theme" in caplog.text


def test_json_named_like_a_recording_is_refused_before_scoring(model_dir, tmp_path, capsys):
    """`--json clip.wav other.wav`: the JSON's file name forgotten."""
    clip, other = tmp_path / "clip.wav", tmp_path / "other.wav"
    soundfile.write(clip, _tone(1.0, RATE, 300), RATE)
    soundfile.write(other, _tone(1.0, RATE, 500), RATE)
    recording = clip.read_bytes()
    assert _main(model_dir, "--json", str(clip), str(other)) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        f"error: --json {clip}: is an audio file, not a result of predict; "
        "name the result file, e.g. --json clip_predictions.json"
    ]
    assert _main(model_dir, str(clip), "--csv", str(clip)) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        f"error: --csv {clip}: is one of the audio files to classify; "
        "name the result file, e.g. --csv clip_predictions.csv"
    ]
    assert clip.read_bytes() == recording


@pytest.mark.parametrize("flag", ["--json", "--csv", "--csv_timeline"])
def test_an_existing_file_is_never_replaced_by_a_result(model_dir, tmp_path, flag, capsys):
    clip, song, notes = tmp_path / "clip.wav", tmp_path / "keep.flac", tmp_path / "notes.txt"
    soundfile.write(clip, _tone(1.0, RATE, 300), RATE)
    soundfile.write(song, _tone(1.0, RATE, 700), RATE)
    notes.write_text("file,emotion,probability\n")  # looks alike, but is not predict's
    kept = song.read_bytes()
    assert _main(model_dir, str(clip), flag, str(song)) == 2
    assert f"error: {flag} {song}: is an audio file, not a result of predict" in (
        capsys.readouterr().err
    )
    assert _main(model_dir, str(clip), flag, str(notes)) == 2
    assert f"error: {flag} {notes}: exists and is not a result file written by predict" in (
        capsys.readouterr().err
    )
    assert song.read_bytes() == kept and notes.read_text() == "file,emotion,probability\n"


def test_results_inside_the_classified_folder_are_allowed_and_replaced_next_time(
    model_dir, tmp_path, capsys
):
    folder = tmp_path / "recordings"
    folder.mkdir()
    soundfile.write(folder / "a.wav", _tone(1.0, RATE, 300), RATE)
    outputs = ["--json", str(folder / "p.json"), "--csv", str(folder / "p.csv"),
               "--csv_timeline", str(folder / "t.csv"),
               "--timeline_png", str(folder / "png")]  # fmt: skip
    for _ in range(2):  # the second run replaces its own earlier results
        assert _main(model_dir, str(folder), *outputs) == 0, capsys.readouterr().err[-3000:]
        results = json.loads((folder / "p.json").read_text())["results"]
        assert [Path(r["file"]).name for r in results] == ["a.wav"]
    assert (folder / "png" / "a.wav.timeline.png").read_bytes()[:4] == b"\x89PNG"


def test_a_png_folder_that_is_a_file_and_one_path_for_two_outputs_are_refused(
    model_dir, tmp_path, capsys
):
    clip = tmp_path / "clip.wav"
    soundfile.write(clip, _tone(1.0, RATE, 300), RATE)
    (tmp_path / "notes.txt").write_text("mine")
    assert _main(model_dir, str(clip), "--timeline_png", str(tmp_path / "notes.txt")) == 2
    assert f"--timeline_png {tmp_path / 'notes.txt'}: is a file" in capsys.readouterr().err
    same = str(tmp_path / "out.csv")
    assert _main(model_dir, str(clip), "--csv", same, "--csv_timeline", same) == 2
    assert "is also given to --csv" in capsys.readouterr().err
    assert (tmp_path / "notes.txt").read_text() == "mine" and not Path(same).exists()


def test_an_even_smoothing_width_is_refused_in_one_line(model_dir, tmp_path, capsys):
    clip = tmp_path / "clip.wav"
    soundfile.write(clip, _tone(1.0, RATE, 300), RATE)
    assert _main(model_dir, str(clip), "--smooth", "2") == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        "error: --smooth 2: give an odd number of windows (1 = off)"
    )
