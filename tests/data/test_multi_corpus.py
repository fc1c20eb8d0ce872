"""Several prepared corpora trained on together: labels by name, speakers apart per corpus, and
a split that is speaker-independent within each corpus and lists each corpus's share."""

from __future__ import annotations

import pytest

from data_scripts.corpora.prepare import main as prepare
from data_scripts.corpora.ravdess.sample_archives import write_voice_file
from training.arguments import parse_arguments
from training.data.loading import load_prepared_dataset, split_for_training


@pytest.fixture(scope="module")
def two_corpora(tmp_path_factory):
    root = tmp_path_factory.mktemp("two")
    emodb, crema = root / "emodb", root / "crema"
    for speaker in ("03", "08", "09"):
        for name, emotion in (("a01Wa", "angry"), ("a02Fa", "happy"), ("b01La", "boredom")):
            write_voice_file(emodb / f"{speaker}{name}.wav", emotion, speaker == "03", 1,
                             sampling_rate=16_000, seconds=(0.3, 0.4))  # fmt: skip
    for actor in ("1001", "1002", "1003"):
        for code, emotion in (("ANG", "angry"), ("SAD", "sad"), ("NEU", "neutral")):
            write_voice_file(crema / f"{actor}_DFA_{code}_XX.wav", emotion, True, 2,
                             sampling_rate=16_000, seconds=(0.3, 0.4))  # fmt: skip
    for corpus, folder in (("emodb", emodb), ("crema_d", crema)):
        prepare([
            "--corpus", corpus, "--data_dir", str(folder),
            "--output_dir", str(root / f"prepared_{corpus}"), "--cache_dir", str(root / "cache"),
        ])  # fmt: skip
    return root


def _data_args(root, *extra):
    argv = [
        "--model_path", "x", "--output_dir", str(root / "run"), "--use_cpu", "true",
        "--dataset_dir", str(root / "prepared_emodb"),
        "--dataset_dir", str(root / "prepared_crema_d"), *extra,
    ]  # fmt: skip
    return parse_arguments(argv)[1]


def test_labels_are_combined_by_name_and_speakers_kept_apart(two_corpora):
    dataset, _ = load_prepared_dataset(_data_args(two_corpora))
    names = dataset.features["label"].names
    # The union of both corpora's classes (EmoDB's seven, CREMA-D's six), in the shared order.
    assert names == ["angry", "disgust", "fearful", "happy", "neutral", "sad", "boredom"]
    rows = {r["file"]: r for r in dataset.remove_columns("audio")}
    assert names[rows["emodb/03a01Wa.wav"]["label"]] == "angry"
    assert names[rows["crema_d/1001_DFA_ANG_XX.wav"]["label"]] == "angry"
    assert names[rows["emodb/08b01La.wav"]["label"]] == "boredom"
    assert rows["emodb/08b01La.wav"]["speaker"] == "emodb:08"
    assert rows["emodb/08b01La.wav"]["gender"] == "female"
    assert rows["crema_d/1003_DFA_NEU_XX.wav"]["speaker"] == "crema_d:1003"
    assert len(rows) == 18


def test_split_is_speaker_independent_within_each_corpus(two_corpora):
    data_args = _data_args(two_corpora)
    dataset, record = load_prepared_dataset(data_args)
    _, summary = split_for_training(dataset, data_args, record)
    assert summary["speaker_independent"] is True
    assert set(summary["per_corpus"]) == {"emodb", "crema_d"}
    for name in ("train", "validation", "test"):
        part = summary["splits"][name]
        # Three speakers per corpus: one each in train, validation and test, from both corpora.
        assert part["corpora"] == {"crema_d": 3, "emodb": 3}
        assert sorted(s.split(":")[0] for s in part["speakers"]) == ["crema_d", "emodb"]
    with pytest.raises(ValueError, match="--split loso is for one corpus"):
        split_for_training(dataset, _data_args(two_corpora, "--split", "loso"), record)


def test_options_of_another_corpus_are_refused_naming_what_this_one_has(two_corpora):
    single = [
        "--model_path", "x", "--output_dir", str(two_corpora / "run"), "--use_cpu", "true",
        "--dataset_dir", str(two_corpora / "prepared_emodb"),
    ]  # fmt: skip
    with pytest.raises(ValueError, match="prepared_emodb has no vocal channels; leave the flag"):
        load_prepared_dataset(parse_arguments([*single, "--vocal_channel", "speech"])[1])
    with pytest.raises(ValueError, match="emobox: not a protocol of this corpus \\(its own: none"):
        load_prepared_dataset(parse_arguments([*single, "--split", "emobox", "--fold", "1"])[1])
