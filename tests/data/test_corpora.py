"""Each public corpus in its own layout and naming: labels, speakers and fields decoded from
literal file names, the audio at 16 kHz, and refusals that name the file."""

from __future__ import annotations

import json
import math
import re

import datasets
import numpy as np
import pytest
import soundfile as sf

from data_scripts.common.audio_decoding import decode_audio
from data_scripts.corpora.prepare import main as prepare
from data_scripts.corpora.ravdess.sample_archives import write_voice_file

MALE, FEMALE = True, False


def _prepare(tmp_path, *argv) -> datasets.Dataset:
    output = tmp_path / "prepared"
    prepare([*argv, "--output_dir", str(output), "--cache_dir", str(tmp_path / "cache")])
    return datasets.load_from_disk(str(output))


def _rows(dataset: datasets.Dataset) -> dict[str, dict]:
    names = dataset.features["label"].names
    rows = {}
    for row in dataset.remove_columns("audio"):
        rows[row["file"]] = dict(row, label=names[row["label"]])
    return rows


def _refusal(capsys, tmp_path, *argv) -> str:
    with pytest.raises(SystemExit) as stopped:
        prepare([*argv, "--output_dir", str(tmp_path / "out"), "--cache_dir", str(tmp_path / "c")])
    assert stopped.value.code == 1
    assert not (tmp_path / "out").exists()
    error = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(error) == 1
    return error[0]


def test_crema_d_file_names_decode_with_genders_from_the_demographics(tmp_path):
    audio = tmp_path / "CREMA-D" / "AudioWAV"
    for name, emotion, male in (
        ("1001_DFA_ANG_XX.wav", "angry", MALE),
        ("1002_IEO_HAP_HI.wav", "happy", FEMALE),
        ("1091_ITS_NEU_XX.wav", "neutral", FEMALE),
    ):
        write_voice_file(audio / name, emotion, male, 1, sampling_rate=16_000)
    (tmp_path / "CREMA-D" / "VideoDemographics.csv").write_text(
        "ActorID,Age,Sex,Race,Ethnicity\n1001,51,Male,Caucasian,Not Hispanic\n"
        "1002,21,Female,Caucasian,Not Hispanic\n1091,29,Female,Asian,Not Hispanic\n"
    )
    dataset = _prepare(tmp_path, "--corpus", "crema_d", "--data_dir", str(audio))
    assert dataset.features["label"].names == [
        "angry", "disgust", "fearful", "happy", "neutral", "sad"
    ]  # fmt: skip
    rows = _rows(dataset)
    first = rows["1001_DFA_ANG_XX.wav"]
    assert (first["speaker"], first["label"], first["gender"]) == ("1001", "angry", "male")
    assert (first["sentence"], first["level"], first["corpus"]) == ("DFA", "XX", "crema_d")
    assert (rows["1002_IEO_HAP_HI.wav"]["label"], rows["1002_IEO_HAP_HI.wav"]["level"]) == (
        "happy",
        "HI",
    )
    assert rows["1091_ITS_NEU_XX.wav"]["gender"] == "female"
    # 16 kHz files are kept sample for sample.
    row = next(r for r in dataset if r["file"] == "1001_DFA_ANG_XX.wav")
    samples, rate = sf.read(audio / "1001_DFA_ANG_XX.wav", dtype="float32")
    assert rate == 16_000 and row["audio"]["array"] == pytest.approx(samples.tolist())
    assert "A subset or INCOMPLETE: 3 files of the 7442 CREMA-D holds" in dataset.info.description


def test_tess_folders_and_names_decode_and_are_resampled(tmp_path):
    root = tmp_path / "TESS"
    for path, emotion in (
        ("OAF_angry/OAF_back_angry.wav", "angry"),
        ("YAF_pleasant_surprised/YAF_bar_ps.wav", "surprised"),
        ("OAF_Fear/OAF_dog_fear.wav", "fearful"),
    ):
        write_voice_file(root / path, emotion, FEMALE, 2, sampling_rate=24_414)
    dataset = _prepare(tmp_path, "--corpus", "tess", "--data_dir", str(root))
    rows = _rows(dataset)
    surprised = rows["YAF_pleasant_surprised/YAF_bar_ps.wav"]
    assert (surprised["speaker"], surprised["label"], surprised["word"]) == (
        "YAF",
        "surprised",
        "bar",
    )
    assert rows["OAF_Fear/OAF_dog_fear.wav"]["label"] == "fearful"
    assert {r["gender"] for r in rows.values()} == {"female"}
    frames = sf.info(root / "OAF_angry/OAF_back_angry.wav").frames
    assert rows["OAF_angry/OAF_back_angry.wav"]["length"] == math.ceil(frames * 16_000 / 24_414)


def test_savee_flat_and_speaker_folder_names_decode(tmp_path):
    root = tmp_path / "SAVEE"
    for path, emotion in (
        ("DC_a01.wav", "angry"),
        ("JE_sa15.wav", "sad"),
        ("KL/n30.wav", "neutral"),
    ):
        write_voice_file(root / path, emotion, MALE, 3, sampling_rate=44_100)
    rows = _rows(_prepare(tmp_path, "--corpus", "savee", "--data_dir", str(root)))
    assert (rows["DC_a01.wav"]["speaker"], rows["DC_a01.wav"]["label"]) == ("DC", "angry")
    assert (rows["JE_sa15.wav"]["label"], rows["JE_sa15.wav"]["sentence"]) == ("sad", "sa15")
    assert (rows["KL/n30.wav"]["speaker"], rows["KL/n30.wav"]["label"]) == ("KL", "neutral")
    assert {r["gender"] for r in rows.values()} == {"male"}


def test_emodb_file_names_decode_speaker_gender_text_and_emotion(tmp_path):
    root = tmp_path / "emodb" / "wav"
    for name, emotion, male in (
        ("03a01Fa.wav", "happy", MALE),
        ("16b10Lb.wav", "boredom", FEMALE),
        ("08a02Wc.wav", "angry", FEMALE),
    ):
        write_voice_file(root / name, emotion, male, 4, sampling_rate=16_000)
    dataset = _prepare(tmp_path, "--corpus", "emodb", "--data_dir", str(root))
    assert "boredom" in dataset.features["label"].names
    rows = _rows(dataset)
    decoded = {
        k: (r["speaker"], r["gender"], r["label"], r["text"], r["version"]) for k, r in rows.items()
    }
    assert decoded == {
        "03a01Fa.wav": ("03", "male", "happy", "a01", "a"),
        "16b10Lb.wav": ("16", "female", "boredom", "b10", "b"),
        "08a02Wc.wav": ("08", "female", "angry", "a02", "c"),
    }  # fmt: skip


@pytest.mark.parametrize(
    "corpus, path, reason",
    [
        ("crema_d", "1001_DFA_XYZ_XX.wav", "emotion code XYZ is not one of ANG"),
        ("crema_d", "notes/take1.wav", "not a CREMA-D file name"),
        ("tess", "OAF_angry/OAF_back_sad.wav", "the folder OAF_angry says OAF, angry"),
        ("savee", "DC_a16.wav", "sentence 16 of code a"),
        ("emodb", "04a01Fa.wav", "speaker 04 is not one of"),
    ],
)
def test_a_file_the_corpus_does_not_name_is_refused_naming_it(
    corpus, path, reason, tmp_path, capsys
):
    write_voice_file(tmp_path / "data" / path, "angry", MALE, 1, sampling_rate=16_000)
    error = _refusal(capsys, tmp_path, "--corpus", corpus, "--data_dir", str(tmp_path / "data"))
    assert path.split("/")[-1] in error and reason in error


def test_label_folders_with_a_speaker_pattern(tmp_path):
    root = tmp_path / "mine"
    write_voice_file(root / "angry" / "ann_01.wav", "angry", FEMALE, 1, sampling_rate=22_050)
    write_voice_file(root / "Happiness" / "day2" / "bob_07.wav", "happy", MALE, 2)
    write_voice_file(root / "sad" / "ann_02.flac", "sad", FEMALE, 1, sampling_rate=16_000)
    dataset = _prepare(
        tmp_path, "--corpus", "folder", "--data_dir", str(root), "--speaker_pattern", r"^(\w+?)_"
    )
    assert dataset.features["label"].names == ["angry", "happy", "sad"]
    rows = _rows(dataset)
    assert {k: (r["label"], r["speaker"], r["gender"]) for k, r in rows.items()} == {
        "angry/ann_01.wav": ("angry", "ann", ""),
        "Happiness/day2/bob_07.wav": ("happy", "bob", ""),
        "sad/ann_02.flac": ("sad", "ann", ""),
    }
    row = next(r for r in dataset if r["file"] == "angry/ann_01.wav")
    reference = decode_audio(root / "angry" / "ann_01.wav")
    assert row["audio"]["array"] == pytest.approx(reference.tolist())


def test_label_folders_refusals_name_the_folder_or_file(tmp_path, capsys):
    empty = tmp_path / "empty"
    (empty / "angry").mkdir(parents=True)
    (empty / "angry" / "notes.txt").write_text("no audio here")
    error = _refusal(capsys, tmp_path, "--corpus", "folder", "--data_dir", str(empty))
    assert f"--data_dir {empty}: no audio files" in error
    root = tmp_path / "mine"
    write_voice_file(root / "frustrated" / "x_1.wav", "angry", MALE, 1)
    error = _refusal(capsys, tmp_path, "--corpus", "folder", "--data_dir", str(root))
    assert "frustrated" in error and "unknown label 'frustrated'" in error and "--labels" in error
    error = _refusal(
        capsys, tmp_path, "--corpus", "folder", "--data_dir", str(root),
        "--labels", "frustrated", "--speaker_pattern", r"^spk(\d+)",
    )  # fmt: skip
    assert "x_1.wav: --speaker_pattern '^spk(\\\\d+)' does not match" in error
    labels = _rows(
        _prepare(tmp_path, "--corpus", "folder", "--data_dir", str(root), "--labels", "frustrated")
    )
    assert labels["frustrated/x_1.wav"]["label"] == "frustrated"
    damaged = root / "frustrated" / "x_2.wav"
    samples = np.full(8_000, 0.1, dtype=np.float32)
    samples[4_000] = np.nan
    sf.write(damaged, samples, 16_000, subtype="FLOAT")
    error = _refusal(
        capsys, tmp_path, "--corpus", "folder", "--data_dir", str(root), "--labels", "frustrated"
    )
    assert f"{damaged}: holds NaN or infinite samples (the first at 0.250 s)" in error


def test_ravdess_through_ser_prepare_has_the_shared_schema_and_keeps_its_columns(
    sample_data_dir, tmp_path
):
    dataset = _prepare(tmp_path, "--data_dir", str(sample_data_dir), "--config", "speech")
    assert dataset.column_names == [
        "audio", "label", "speaker", "gender", "length", "file", "corpus", "audio_sha256",
        "vocal_channel", "intensity", "statement", "repetition", "actor",
    ]  # fmt: skip
    # RAVDESS's own label order (code - 1), the id2label of every model trained on it.
    assert dataset.features["label"].names == [
        "neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised",
    ]  # fmt: skip
    assert [dataset.features[c].dtype for c in ("statement", "repetition", "actor")] == [
        "int32", "int32", "int32",
    ]  # fmt: skip
    row = next(
        r for r in dataset.remove_columns("audio") if r["file"] == "03-01-05-02-01-01-02.wav"
    )
    assert (row["label"], row["intensity"], row["actor"], row["gender"]) == (
        4,
        "strong",
        2,
        "female",
    )
    assert (row["speaker"], row["corpus"], row["vocal_channel"]) == ("02", "ravdess", "speech")
    record = json.loads((tmp_path / "prepared" / "corpus.json").read_text())
    assert record["facts"]["name"] == "ravdess"
    assert record["facts"]["label_names"] == dataset.features["label"].names
    assert list(record["facts"]["protocols"]["emobox"]["folds"]) == ["1", "2", "3", "4", "5", "6"]
    # Every actor of both channels: the speaker split's universe even for a speech-only build.
    assert record["speakers"] == {"01": "male", "02": "female", "03": "male", "04": "female"}


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--corpus", "crema_d", "--archive_dir", "x"], "--archive_dir is for RAVDESS only"),
        (["--corpus", "manifest", "--data_dir", "x"], "--corpus manifest: give --manifest"),
        (["--corpus", "tess"], "--corpus tess: give --data_dir"),
        (
            ["--corpus", "emodb", "--data_dir", "x", "--speaker_pattern", "(.)"],
            "is for --corpus folder",
        ),
    ],
)
def test_flags_that_do_not_go_with_the_corpus_are_usage_errors(argv, message, tmp_path, capsys):
    with pytest.raises(SystemExit) as stopped:
        prepare([*argv, "--output_dir", str(tmp_path / "out")])
    assert stopped.value.code == 2 and message in capsys.readouterr().err


def test_a_dataset_saved_by_the_previous_layout_is_refused_in_one_line(tmp_path):
    """A folder our builders wrote before corpus.json (RAVDESS's old schema: actor, no speaker;
    the decoding line in its description) must not load half-understood: one line says to
    prepare it again, for training and for ser-evaluate alike."""
    from data_scripts.common.arrow_cache import DECODING_LINE_PREFIX
    from data_scripts.common.audio_decoding import DEFAULT_SETTINGS
    from data_scripts.corpora.corpus_record import load_saved_corpus
    from training.arguments import parse_arguments
    from training.data.loading import load_prepared_dataset

    old = tmp_path / "old_prepared"
    info = datasets.DatasetInfo(
        description="RAVDESS audio-only speech and song, 16000 Hz mono, labels from file names.\n"
        f"{DECODING_LINE_PREFIX}{json.dumps(DEFAULT_SETTINGS.as_dict(), sort_keys=True)}"
    )
    datasets.Dataset.from_dict(
        {"file": ["03-01-05-01-01-01-01.wav"], "actor": [1], "label": [4]}, info=info
    ).save_to_disk(str(old))
    expected = f"{old}: prepared by an earlier version (no corpus.json); run ser-prepare"
    with pytest.raises(ValueError, match=re.escape(expected)):
        load_saved_corpus(old)
    argv = ["--model_path", "m", "--output_dir", str(tmp_path / "run"), "--dataset_dir", str(old)]
    with pytest.raises(ValueError, match=re.escape(expected)):
        load_prepared_dataset(parse_arguments(argv)[1])
