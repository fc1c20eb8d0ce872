"""EmoBox's RAVDESS folds: the table, the split, and what split.json says about comparability."""

from __future__ import annotations

from collections import Counter

import pytest
from test_splits import SPLITS, actors_of, ravdess_rows, split_dataset, split_summary

from data_scripts.corpora.ravdess.facts import ACTORS, EMOBOX_TEST_ACTORS, actor_gender
from data_scripts.corpora.ravdess_corpus import FACTS
from training.data.loading import resolve_channel

# Written out from emo-box/EmoBox data/ravdess/fold_k/ravdess_test_fold_k.jsonl.
EMOBOX_TABLE = {
    1: {1, 11, 20, 21},
    2: {4, 10, 12, 14},
    3: {8, 9, 19, 23},
    4: {3, 5, 7, 24},
    5: {2, 15, 16, 18},
    6: {6, 13, 17, 22},
}


@pytest.fixture(scope="module")
def speech_rows():
    return ravdess_rows().filter(lambda name: name.split("-")[1] == "01", input_columns="file")


def test_fold_table_is_emobox_and_tests_every_actor_once():
    assert {fold: set(actors) for fold, actors in EMOBOX_TEST_ACTORS.items()} == EMOBOX_TABLE
    # RAVDESS's protocol entry (its corpus.json) holds the same table, as speakers.
    folds = FACTS.protocols["emobox"]["folds"]
    assert {int(fold): {int(s) for s in speakers} for fold, speakers in folds.items()} == (
        EMOBOX_TABLE
    )
    assert Counter(a for actors in EMOBOX_TABLE.values() for a in actors) == Counter(ACTORS)


@pytest.mark.parametrize("fold", range(1, 7))
def test_every_fold_has_emobox_counts_and_disjoint_gender_balanced_validation(speech_rows, fold):
    splits, parameters = split_dataset(speech_rows, "emobox", seed=0, fold=fold)
    actors = actors_of(splits)
    assert actors["test"] == EMOBOX_TABLE[fold]
    assert len(splits["test"]) == 240
    assert len(splits["train"]) + len(splits["validation"]) == 1200
    assert (len(splits["train"]), len(splits["validation"])) == (960, 240)
    assert Counter(actor_gender(a) for a in actors["validation"]) == {"male": 2, "female": 2}
    assert not (actors["validation"] & (actors["train"] | actors["test"]))
    assert not (actors["train"] & actors["test"])
    assert set().union(*actors.values()) == set(ACTORS)
    summary = split_summary((splits, parameters))
    assert summary["protocol"] == "emobox" and summary["fold"] == fold
    assert summary["protocol_check"]["comparable"] is True
    assert "no validation set" in summary["protocol_check"]["validation"]


def test_validation_actors_are_deterministic_for_a_seed(speech_rows):
    first = split_summary(split_dataset(speech_rows, "emobox", seed=0, fold=3))
    assert first == split_summary(split_dataset(speech_rows, "emobox", seed=0, fold=3))


def test_song_files_make_the_numbers_not_emoboxs():
    splits = split_dataset(ravdess_rows(), "emobox", seed=0, fold=1)
    assert actors_of(splits)["test"] == EMOBOX_TABLE[1]
    emobox = split_summary(splits)["protocol_check"]
    assert emobox["comparable"] is False
    assert emobox["note"].startswith("NOT EmoBox's numbers: vocal channels song, speech")


@pytest.mark.parametrize("fold", [0, 7])
def test_fold_outside_one_to_six_is_refused_naming_the_flag(speech_rows, fold):
    with pytest.raises(ValueError, match=f"--fold {fold}: EmoBox folds are numbered 1 to 6"):
        split_dataset(speech_rows, "emobox", fold=fold)


def test_a_sample_without_the_folds_test_actors_is_refused():
    with pytest.raises(ValueError, match="EmoBox fold 1 tests speakers"):
        split_dataset(ravdess_rows((2, 3, 4, 5)), "emobox", fold=1)


def test_split_names_stay_train_validation_test(speech_rows):
    assert tuple(split_dataset(speech_rows, "emobox", fold=2)[0]) == SPLITS


def _parse(*flags: str):
    from training.arguments import parse_arguments

    base = ["--model_path", "m", "--dataset_dir", "d", "--output_dir", "o"]
    _, data_args, _ = parse_arguments([*base, *flags])
    return data_args


def _channel(*flags: str) -> str:
    """The rows a run on RAVDESS takes: its record's EmoBox entry says speech."""
    return resolve_channel({"facts": FACTS.as_dict()}, _parse(*flags))


def test_emobox_means_speech_unless_the_user_asks_for_more():
    small_preset = ("--train_config", "configs/training/small.yaml")
    assert _channel("--split", "emobox", "--fold", "3") == "speech"
    assert _channel(*small_preset, "--cv_folds", "emobox") == "speech"
    assert _channel(*small_preset) == "all"
    assert _channel("--split", "emobox", "--fold", "3", "--vocal_channel", "all") == "all"


def test_cv_folds_takes_a_number_or_emobox():
    assert _parse("--cv_folds", "emobox").cv_folds == "emobox"
    assert _parse("--cv_folds", "6").cv_folds == 6
    assert _parse("--split", "kfold").fold == 0


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (("--cv_folds", "seven"), "--cv_folds seven: give a number of folds"),
        (("--split", "emobox"), "--split emobox needs --fold"),
    ],
)
def test_bad_fold_settings_name_the_flag(flags, message, capsys):
    with pytest.raises(SystemExit):
        _parse(*flags)
    assert message in capsys.readouterr().err
