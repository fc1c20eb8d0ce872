"""The RAVDESS datasets builder: schema, waveforms, labels, caching, the prepare CLI."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import datasets
import numpy as np
import pytest
import soundfile as sf
import torch
import torchaudio.functional as audio_functional

from data_scripts.common.audio_decoding import DecodeSettings
from data_scripts.common.splits import split_summary
from data_scripts.corpora.builder import EmotionCorpus
from data_scripts.corpora.prepare import main
from data_scripts.corpora.ravdess.download import download_and_map
from data_scripts.corpora.ravdess.facts import parse_file_name
from data_scripts.corpora.ravdess.mapping import MAPPING_FILE_NAME, read_mapping
from data_scripts.corpora.ravdess_corpus import build_ravdess, load_ravdess, scan

EXPECTED_FEATURES = datasets.Features(
    {
        "audio": {
            "array": datasets.List(datasets.Value("float32")),
            "sampling_rate": datasets.Value("int32"),
        },
        "label": datasets.ClassLabel(
            names=["neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised"]
        ),
        "speaker": datasets.Value("string"),
        "gender": datasets.Value("string"),
        "length": datasets.Value("int64"),
        "file": datasets.Value("string"),
        "corpus": datasets.Value("string"),
        "audio_sha256": datasets.Value("string"),
        "vocal_channel": datasets.Value("string"),
        "intensity": datasets.Value("string"),
        "statement": datasets.Value("int32"),
        "repetition": datasets.Value("int32"),
        "actor": datasets.Value("int32"),
    }
)


def reference_waveform(path: Path, channel: int | None = None) -> np.ndarray:
    """soundfile decode, channel average (or one channel), torchaudio resample to 16 kHz."""
    audio, rate = sf.read(path, dtype="float64", always_2d=True)
    mono = audio.mean(axis=1) if channel is None else audio[:, channel]
    resampled = audio_functional.resample(torch.from_numpy(mono.astype(np.float32)), rate, 16_000)
    return resampled.numpy()


def files_by_name(data_dir: Path) -> dict[str, Path]:
    rows = read_mapping(data_dir / MAPPING_FILE_NAME)
    return {row["audio_name"]: data_dir / row["audio_path"] for row in rows}


def tree_snapshot(folder: Path) -> dict[str, int]:
    """Every file under `folder` with its modification time: a rewrite changes it."""
    return {str(p): p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def data_dir(sample_archives, tmp_path_factory) -> Path:
    """Extracted sample + mapping CSV, made by the real download-and-map code."""
    archive_dir = sample_archives["speech"].path.parent
    checksums = {a.path.name: (a.size, a.md5) for a in sample_archives.values()}
    target = tmp_path_factory.mktemp("ravdess_data")
    download_and_map(target, archive_dir=archive_dir, checksums=checksums)
    return target


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("datasets_cache")


@pytest.fixture(scope="module")
def built(data_dir, cache_dir) -> datasets.Dataset:
    return build_ravdess(data_dir=data_dir, cache_dir=cache_dir)


@pytest.fixture
def private_data_dir(data_dir, tmp_path) -> Path:
    """A copy of the sample's song files and CSV (mtimes kept) that a test may change."""
    copy = tmp_path / "data"
    shutil.copytree(data_dir / "classification_data" / "songs", copy / "classification_data/songs")
    shutil.copy2(data_dir / MAPPING_FILE_NAME, copy / MAPPING_FILE_NAME)
    return copy


def test_features_are_the_documented_schema(built):
    assert built.features == EXPECTED_FEATURES


def test_each_row_carries_the_sha256_of_its_16khz_samples(built):
    """The leakage audit's fingerprint: hashlib over the row's float32 samples, here."""
    for row in built.with_format("numpy").select_columns(["audio", "audio_sha256"]):
        samples = row["audio"]["array"].astype("<f4").tobytes()
        assert row["audio_sha256"] == hashlib.sha256(samples).hexdigest()


def test_every_mapped_file_becomes_one_row(built, data_dir):
    assert sorted(built["file"]) == sorted(files_by_name(data_dir))


def test_waveforms_equal_reference_decode_and_resample(built, data_dir):
    paths = files_by_name(data_dir)
    for row in built.with_format("numpy").select_columns(["audio", "file"]):
        expected = reference_waveform(paths[row["file"]])
        assert row["audio"]["sampling_rate"] == 16_000
        assert row["audio"]["array"].dtype == np.float32
        assert row["audio"]["array"].shape == expected.shape
        np.testing.assert_allclose(row["audio"]["array"], expected, rtol=0, atol=1e-6)


def test_stereo_files_are_averaged_to_mono(built, data_dir):
    paths = files_by_name(data_dir)
    stereo = [name for name, path in paths.items() if sf.info(path).channels == 2]
    assert stereo, "the sample should hold stereo files"
    rows = built.with_format("numpy").filter(lambda f: f in stereo, input_columns="file")
    assert len(rows) == len(stereo)
    for row in rows:
        array = row["audio"]["array"]
        np.testing.assert_allclose(array, reference_waveform(paths[row["file"]]), atol=1e-6)
        assert not np.allclose(array, reference_waveform(paths[row["file"]], channel=0), atol=1e-4)


def test_labels_and_fields_equal_the_parsed_file_name(built):
    label_names = built.features["label"].names
    for row in built.remove_columns("audio"):
        name = parse_file_name(row["file"])
        assert label_names[row["label"]] == name.emotion
        assert (row["vocal_channel"], row["intensity"], row["gender"]) == (
            name.vocal_channel,
            name.intensity,
            name.gender,
        )
        assert (row["statement"], row["repetition"], row["actor"]) == (
            name.statement,
            name.repetition,
            name.actor,
        )
        assert (row["speaker"], row["corpus"]) == (f"{name.actor:02d}", "ravdess")


def test_length_column_equals_array_length(built):
    for row in built.with_format("numpy").select_columns(["audio", "length"]):
        assert row["length"] == len(row["audio"]["array"])


def test_vocal_channel_config_keeps_only_its_rows(data_dir, cache_dir, built):
    song = build_ravdess(data_dir=data_dir, config="song", cache_dir=cache_dir)
    assert set(song["vocal_channel"]) == {"song"}
    assert len(song) == sum(1 for channel in built["vocal_channel"] if channel == "song")


def test_archive_build_equals_extracted_build(sample_archives, cache_dir, built):
    archive_dir = sample_archives["song"].path.parent
    from_archives = build_ravdess(archive_dir=archive_dir, config="song", cache_dir=cache_dir)
    extracted = built.filter(lambda c: c == "song", input_columns="vocal_channel")
    assert sorted(from_archives["file"]) == sorted(extracted["file"])
    expected = {row["file"]: row for row in extracted.with_format("numpy")}
    for row in from_archives.with_format("numpy"):
        assert row["label"] == expected[row["file"]]["label"]
        np.testing.assert_array_equal(
            row["audio"]["array"], expected[row["file"]]["audio"]["array"]
        )


def test_second_build_reuses_cache_without_decoding(private_data_dir, tmp_path):
    cache = tmp_path / "cache"
    first = build_ravdess(data_dir=private_data_dir, config="song", cache_dir=cache)
    before = tree_snapshot(cache)
    # Same size and mtime, but no longer audio: decoding it now would fail the build.
    victim = next(private_data_dir.rglob("*.wav"))
    status = victim.stat()
    victim.write_bytes(b"\0" * status.st_size)
    os.utime(victim, ns=(status.st_atime_ns, status.st_mtime_ns))

    second = build_ravdess(data_dir=private_data_dir, config="song", cache_dir=cache)

    assert tree_snapshot(cache) == before
    assert [f["filename"] for f in second.cache_files] == [f["filename"] for f in first.cache_files]
    row = second.with_format("numpy").filter(lambda f: f == victim.name, input_columns="file")
    assert np.abs(row[0]["audio"]["array"]).max() > 0.01


def test_changed_mapping_csv_rebuilds(private_data_dir, tmp_path):
    cache = tmp_path / "cache"
    first = build_ravdess(data_dir=private_data_dir, config="song", cache_dir=cache)
    csv_path = private_data_dir / MAPPING_FILE_NAME
    lines = csv_path.read_text().splitlines(keepends=True)
    dropped = next(csv.DictReader(lines[-1:], fieldnames=next(csv.reader(lines[:1]))))
    csv_path.write_text("".join(lines[:-1]))

    second = build_ravdess(data_dir=private_data_dir, config="song", cache_dir=cache)

    assert len(second) == len(first) - 1
    assert dropped["audio_name"] not in set(second["file"])
    assert second.cache_files[0]["filename"] != first.cache_files[0]["filename"]


def test_changed_audio_file_rebuilds(private_data_dir, tmp_path):
    cache = tmp_path / "cache"
    first = build_ravdess(data_dir=private_data_dir, config="song", cache_dir=cache)
    victim = next(private_data_dir.rglob("*.wav"))
    audio, rate = sf.read(victim, dtype="float32")
    sf.write(victim, audio * 0.5, rate, subtype="PCM_16")

    second = build_ravdess(data_dir=private_data_dir, config="song", cache_dir=cache)

    assert second.cache_files[0]["filename"] != first.cache_files[0]["filename"]
    row = second.with_format("numpy").filter(lambda f: f == victim.name, input_columns="file")[0]
    np.testing.assert_allclose(row["audio"]["array"], reference_waveform(victim), atol=1e-6)


def test_resampling_settings_are_part_of_the_cache_location(private_data_dir, tmp_path):
    def cache_location(**settings) -> str:
        builder = EmotionCorpus(
            scan=scan(data_dir=private_data_dir, config="song"), cache_dir=str(tmp_path), **settings
        )
        return builder.cache_dir

    default = cache_location()
    assert default == cache_location(decode_settings=DecodeSettings(rolloff=0.99))
    assert cache_location(decode_settings=DecodeSettings(rolloff=0.9)) != default
    assert cache_location(decode_settings=DecodeSettings(lowpass_filter_width=16)) != default


def test_undecodable_file_stops_build_naming_it(private_data_dir, tmp_path):
    victim = next(private_data_dir.rglob("*.wav"))
    victim.write_bytes(b"RIFF this is not a wav file")
    cache = tmp_path / "cache"

    with pytest.raises(ValueError, match=victim.name):
        build_ravdess(data_dir=private_data_dir, config="song", cache_dir=cache, num_proc=2)

    assert not list(cache.rglob("dataset_info.json")), "no cache may look complete"
    assert not list(cache.rglob("*.incomplete"))


def test_missing_mapped_file_is_reported_by_path(private_data_dir, tmp_path):
    victim = next(private_data_dir.rglob("*.wav"))
    victim.unlink()
    with pytest.raises(FileNotFoundError, match=victim.name):
        build_ravdess(data_dir=private_data_dir, config="song", cache_dir=tmp_path / "cache")


def test_load_ravdess_gives_speaker_disjoint_splits(data_dir, cache_dir, built):
    splits, parameters = load_ravdess(data_dir=data_dir, cache_dir=cache_dir, seed=0)
    summary = split_summary(splits, parameters)
    actors = [set(summary["splits"][name]["speakers"]) for name in ("train", "validation", "test")]
    assert sorted(set().union(*actors)) == ["01", "02", "03", "04"]
    assert sum(len(a) for a in actors) == 4
    assert sum(len(split) for split in splits.values()) == len(built)


def test_cli_output_loads_in_a_process_without_the_project(data_dir, cache_dir, built, tmp_path):
    output = tmp_path / "prepared"
    main(["--data_dir", str(data_dir), "--output_dir", str(output), "--cache_dir", str(cache_dir)])
    script = (
        "import datasets, json, sys, numpy as np\n"
        f"d = datasets.load_from_disk({str(output)!r}).with_format('numpy')\n"
        "print(json.dumps({'files': list(d['file']), 'labels': [int(x) for x in d['label']],\n"
        "    'sums': [float(np.sum(a['array'], dtype=np.float64)) for a in d['audio']],\n"
        "    'features': d.features.to_dict(),\n"
        "    'project_imported': any(m.startswith(('data_scripts', 'training'))\n"
        "                            for m in sys.modules)}))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    expected = built.with_format("numpy")
    assert loaded["project_imported"] is False
    assert loaded["files"] == list(expected["file"])
    assert loaded["labels"] == [int(label) for label in expected["label"]]
    assert datasets.Features.from_dict(loaded["features"]) == EXPECTED_FEATURES
    sums = [float(np.sum(a["array"], dtype=np.float64)) for a in expected["audio"]]
    np.testing.assert_allclose(loaded["sums"], sums, rtol=1e-9)


def _cut_short(path: Path, cut: int = 20_000) -> None:
    """Chop bytes off the end of a real WAV: its header then promises more than it holds."""
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - cut])


def _run_builder_cli(data_dir: Path, tmp_path: Path, *extra: str) -> subprocess.CompletedProcess:
    command = [
        sys.executable, "-m", "data_scripts.ravdess", "--data_dir", str(data_dir),
        "--output_dir", str(tmp_path / "prepared"), "--cache_dir", str(tmp_path / "cache"),
        "--config", "song", *extra,
    ]  # fmt: skip
    return subprocess.run(
        command, cwd=Path(__file__).resolve().parents[2], capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip


@pytest.mark.parametrize("num_proc", ["1", "2"])
def test_cli_stops_on_a_truncated_wav_with_one_line_naming_it(private_data_dir, tmp_path, num_proc):
    victim = sorted(private_data_dir.rglob("*.wav"))[3]
    declared = sf.info(victim).frames
    _cut_short(victim)

    result = _run_builder_cli(private_data_dir, tmp_path, "--num_proc", num_proc)

    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, result.stderr
    assert str(victim) in lines[0]
    assert f"truncated: header declares {declared} frames, file holds" in lines[0]
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "prepared").exists()


def test_cli_names_a_wav_without_frames_and_shows_the_traceback_with_debug(
    private_data_dir, tmp_path
):
    victim = sorted(private_data_dir.rglob("*.wav"))[0]
    sf.write(victim, np.zeros((0, 1), dtype=np.float32), 48_000)

    result = _run_builder_cli(private_data_dir, tmp_path, "--num_proc", "1")
    assert result.returncode == 1
    assert f"error: RAVDESS build failed: {victim}: holds no audio samples" in result.stderr
    assert "Traceback" not in result.stderr and "reshape" not in result.stderr

    debug = _run_builder_cli(private_data_dir, tmp_path, "--num_proc", "1", "--debug")
    assert debug.returncode != 0
    assert "Traceback" in debug.stderr and f"{victim}: holds no audio samples" in debug.stderr
