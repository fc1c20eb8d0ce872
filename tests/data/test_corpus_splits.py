"""Splits of corpora other than RAVDESS: speaker-independent and gender-balanced where speakers
and genders are known, leave-one-speaker-out for few speakers, and a file-level split that says
plainly it is not speaker-independent when there are no speakers."""

from __future__ import annotations

import datasets
import pytest

from data_scripts.common.splits import split_corpus, split_summary

LABELS = ["angry", "happy", "sad"]


def _corpus(speakers: dict[str, str], files_per_label: int = 4) -> datasets.Dataset:
    rows = {"speaker": [], "gender": [], "label": [], "file": []}
    for speaker, gender in speakers.items():
        for label in range(len(LABELS)):
            for n in range(files_per_label):
                rows["speaker"].append(speaker)
                rows["gender"].append(gender)
                rows["label"].append(label)
                rows["file"].append(f"{speaker or 'x'}_{LABELS[label]}_{n}.wav")
    features = datasets.Features(
        {
            "speaker": datasets.Value("string"),
            "gender": datasets.Value("string"),
            "label": datasets.ClassLabel(names=LABELS),
            "file": datasets.Value("string"),
        }
    )
    return datasets.Dataset.from_dict(rows, features=features)


CREMA_LIKE = {str(1001 + i): ("male" if i % 2 else "female") for i in range(10)}


def test_speaker_split_is_disjoint_and_gender_balanced():
    summary = split_summary(*split_corpus(_corpus(CREMA_LIKE), seed=3))
    parts = summary["splits"]
    assert summary["speaker_independent"] is True
    assert [len(parts[n]["speakers"]) for n in ("train", "validation", "test")] == [6, 2, 2]
    for name in ("validation", "test"):
        assert parts[name]["genders"] == {"male": 1, "female": 1}
    assert sorted(s for p in parts.values() for s in p["speakers"]) == sorted(CREMA_LIKE)


def test_leave_one_speaker_out_over_two_speakers_says_validation_shares_one():
    tess = _corpus({"OAF": "female", "YAF": "female"}, files_per_label=10)
    for fold, test_speaker in enumerate(["OAF", "YAF"]):
        summary = split_summary(*split_corpus(tess, protocol="loso", fold=fold))
        parts = summary["splits"]
        assert parts["test"]["speakers"] == [test_speaker]
        assert parts["train"]["speakers"] == parts["validation"]["speakers"] != [test_speaker]
        assert "shares its speaker with training" in summary["validation_note"]
        assert parts["validation"]["labels"] == {"angry": 2, "happy": 2, "sad": 2}


def test_leave_one_speaker_out_over_four_speakers_validates_on_the_next():
    savee = _corpus({"DC": "male", "JE": "male", "JK": "male", "KL": "male"})
    parts = split_summary(*split_corpus(savee, protocol="loso", fold=3))["splits"]
    assert (parts["test"]["speakers"], parts["validation"]["speakers"]) == (["KL"], ["DC"])
    assert parts["train"]["speakers"] == ["JE", "JK"]


def test_without_speakers_the_split_is_file_level_and_says_so():
    summary = split_summary(*split_corpus(_corpus({"": ""}, files_per_label=10)))
    assert summary["protocol"] == "random" and summary["requested"] == "speaker"
    assert summary["speaker_independent"] is False
    assert summary["note"].startswith("NOT speaker-independent")
    assert summary["splits"]["test"]["labels"] == {"angry": 2, "happy": 2, "sad": 2}


@pytest.mark.parametrize(
    "dataset, protocol, message",
    [
        (_corpus({"OAF": "female", "YAF": "female"}), "speaker", "use --split loso --fold 0"),
        (_corpus({"": ""}, files_per_label=2), "random", "angry (2 files), happy (2 files)"),
        (_corpus({"a": "", "": ""}), "speaker", "12 rows have no speaker (e.g. x_angry_0.wav)"),
        (_corpus({"a": "", "b": ""}), "loso", "--fold 5: leave-one-speaker-out folds are 0 to 1"),
        # Two speakers: validation is a fifth of one speaker's 9 files, 2, fewer than 3 labels.
        (_corpus({"a": "", "b": ""}, files_per_label=3), "loso",
         "takes 20% of 9 files (2), fewer than the 3 labels it must hold; it needs at least 15"),
    ],
)  # fmt: skip
def test_splits_that_cannot_be_made_are_refused_saying_why(dataset, protocol, message):
    fold = 5 if protocol == "loso" and len(dataset) == 24 else 0
    with pytest.raises(ValueError) as refused:
        split_corpus(dataset, protocol=protocol, fold=fold)
    assert message in str(refused.value)
