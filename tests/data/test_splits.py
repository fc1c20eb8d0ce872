"""Split protocols on RAVDESS-shaped rows: every real file name of all 24 actors, no audio,
through the shared splits module with RAVDESS's record (its speakers, its EmoBox protocol)."""

from __future__ import annotations

import json
import logging
from collections import Counter

import datasets
import numpy as np
import pytest

from data_scripts.common.splits import split_corpus
from data_scripts.common.splits import split_summary as summarize
from data_scripts.corpora.ravdess.facts import (
    ACTORS,
    EMOTIONS,
    actor_gender,
    file_names_for_actor,
    parse_file_name,
)
from data_scripts.corpora.ravdess_corpus import FACTS

SPLITS = ("train", "validation", "test")


def ravdess_rows(actors=ACTORS) -> datasets.Dataset:
    """One row per RAVDESS file of `actors` (speech and song), with actor, label and file."""
    names = [
        parse_file_name(file_name)
        for actor in actors
        for channel in ("speech", "song")
        for file_name in file_names_for_actor(actor, channel)
    ]
    return datasets.Dataset.from_dict(
        {
            "file": [n.file_name for n in names],
            "actor": [n.actor for n in names],
            "speaker": [f"{n.actor:02d}" for n in names],
            "gender": [n.gender for n in names],
            "vocal_channel": [n.vocal_channel for n in names],
            "label": [n.emotion_code - 1 for n in names],
        },
        features=datasets.Features(
            {
                "file": datasets.Value("string"),
                "actor": datasets.Value("int32"),
                "speaker": datasets.Value("string"),
                "gender": datasets.Value("string"),
                "vocal_channel": datasets.Value("string"),
                "label": datasets.ClassLabel(names=list(EMOTIONS)),
            }
        ),
    )


def split_dataset(rows, protocol="speaker", seed=0, fold=0, num_folds=6, actors=None):
    """(splits, parameters) of RAVDESS rows; `actors`: the corpus's actors (its record's
    speakers, the universe of every channel), default those with rows."""
    speakers = None if actors is None else {f"{a:02d}": actor_gender(a) for a in actors}
    return split_corpus(
        rows, protocol, seed, fold, num_folds, speakers=speakers, protocols=FACTS.protocols
    )


def split_summary(result) -> dict:
    return summarize(*result, FACTS.protocols)


@pytest.fixture(scope="module")
def rows() -> datasets.Dataset:
    return ravdess_rows()


def actors_of(splits) -> dict[str, set[int]]:
    splits = splits[0] if isinstance(splits, tuple) else splits  # (splits, parameters)
    return {name: {int(a) for a in splits[name]["actor"]} for name in SPLITS}


def genders(actors) -> Counter:
    return Counter(actor_gender(a) for a in actors)


def test_speaker_split_of_24_actors_is_16_4_4_with_two_of_each_gender(rows):
    actors = actors_of(split_dataset(rows, "speaker", seed=0))
    assert [len(actors[name]) for name in SPLITS] == [16, 4, 4]
    assert genders(actors["validation"]) == genders(actors["test"]) == {"male": 2, "female": 2}
    assert genders(actors["train"]) == {"male": 8, "female": 8}


@pytest.mark.parametrize("seed", range(5))
def test_speaker_split_actors_are_disjoint_and_rows_follow_them(rows, seed):
    splits, _ = split_dataset(rows, "speaker", seed=seed)
    actors = actors_of(splits)
    assert not (actors["train"] & actors["validation"])
    assert not (actors["train"] & actors["test"])
    assert not (actors["validation"] & actors["test"])
    assert set().union(*actors.values()) == set(ACTORS)
    assert sorted(f for name in SPLITS for f in splits[name]["file"]) == sorted(rows["file"])


def test_speaker_split_is_deterministic_for_a_seed(rows):
    first = split_summary(split_dataset(rows, "speaker", seed=3))
    again = split_summary(split_dataset(rows, "speaker", seed=3))
    assert first == again


def test_speaker_split_changes_with_the_seed(rows):
    test_actors = {
        seed: tuple(
            split_summary(split_dataset(rows, "speaker", seed=seed))["splits"]["test"]["speakers"]
        )
        for seed in range(4)
    }
    assert len(set(test_actors.values())) > 1


def test_speaker_split_of_four_actors_keeps_one_actor_per_held_out_split():
    splits = split_dataset(ravdess_rows((1, 2, 3, 4)), "speaker", seed=0)
    actors = actors_of(splits)
    assert [len(actors[name]) for name in SPLITS] == [2, 1, 1]
    assert genders(actors["train"]) == {"male": 1, "female": 1}


def test_speaker_split_refuses_too_few_actors():
    with pytest.raises(ValueError, match="at least 3 speakers, this corpus has 2"):
        split_dataset(ravdess_rows((1, 2)), "speaker")


def test_kfold_tests_every_actor_exactly_once_across_folds(rows):
    tested = Counter()
    for fold in range(6):
        actors = actors_of(split_dataset(rows, "kfold", seed=0, fold=fold, num_folds=6))
        assert genders(actors["test"]) == {"male": 2, "female": 2}
        assert len(actors["train"]) == 16
        assert not (actors["train"] & (actors["validation"] | actors["test"]))
        tested.update(actors["test"])
    assert tested == Counter({actor: 1 for actor in ACTORS})


def test_kfold_validation_is_the_next_fold(rows):
    folds = [actors_of(split_dataset(rows, "kfold", fold=k, num_folds=6)) for k in range(6)]
    for k in range(6):
        assert folds[k]["validation"] == folds[(k + 1) % 6]["test"]


def test_kfold_refuses_a_fold_outside_the_range(rows):
    with pytest.raises(ValueError, match="--num_folds 6 --fold 6: give 3 to 24 folds"):
        split_dataset(rows, "kfold", fold=6, num_folds=6)


def test_random_split_is_stratified_by_label_and_warns(rows, caplog):
    with caplog.at_level(logging.WARNING, logger="data_scripts.common.splits"):
        splits, _ = split_dataset(rows, "random", seed=0)
    assert "NOT speaker-independent" in caplog.text
    assert sum(len(splits[name]) for name in SPLITS) == len(rows)
    assert abs(len(splits["test"]) - 0.2 * len(rows)) <= 1
    overall = np.bincount(rows["label"], minlength=8) / len(rows)
    for name in SPLITS:
        share = np.bincount(splits[name]["label"], minlength=8) / len(splits[name])
        np.testing.assert_allclose(share, overall, atol=0.01)


def test_split_summary_records_protocol_actors_files_and_counts(rows):
    splits, parameters = split_dataset(rows, "kfold", seed=1, fold=2, num_folds=6)
    summary = json.loads(json.dumps(split_summary((splits, parameters))))
    assert (summary["protocol"], summary["seed"], summary["fold"], summary["num_folds"]) == (
        "kfold",
        1,
        2,
        6,
    )
    for name in SPLITS:
        part = summary["splits"][name]
        assert part["speakers"] == [f"{a:02d}" for a in sorted(actors_of(splits)[name])]
        assert part["count"] == len(splits[name]) == len(part["files"])
        assert part["files"] == sorted(splits[name]["file"])
        assert sum(part["labels"].values()) == part["count"]


def test_split_summary_refuses_an_actor_in_two_splits(rows):
    overlapping = datasets.DatasetDict(
        {
            "train": rows.select(range(0, 200)),
            "validation": rows.select(range(150, 300)),
            "test": rows.select(range(300, 400)),
        }
    )
    parameters = {"protocol": "speaker", "seed": 0, "speaker_independent": True}
    with pytest.raises(ValueError, match="is in both train and validation"):
        summarize(overlapping, parameters)


def test_unknown_protocol_is_refused(rows):
    with pytest.raises(ValueError, match="'by_emotion' is not one of"):
        split_dataset(rows, "by_emotion")


def _chosen(splits: datasets.DatasetDict) -> tuple[set[int], set[int]]:
    return actors_of(splits)["test"], actors_of(splits)["validation"]


@pytest.mark.parametrize("protocol", ["speaker", "kfold"])
def test_song_and_all_choose_the_same_speakers_for_a_seed(rows, protocol):
    """Actor 18 has no song: the split must not depend on which channel's files are present."""
    song = rows.filter(lambda name: name.startswith("03-02-"), input_columns="file")
    assert 18 not in set(song["actor"])
    moved = 0
    for seed in range(12):
        everything = split_dataset(rows, protocol=protocol, seed=seed)
        with_universe = split_dataset(song, protocol=protocol, seed=seed, actors=list(ACTORS))
        test, validation = _chosen(everything)
        assert _chosen(with_universe) == (test - {18}, validation - {18}), seed
        without = split_dataset(song, protocol=protocol, seed=seed)
        moved += _chosen(without) != (test - {18}, validation - {18})
    assert moved > 0, "the check cannot fail: no seed where song alone picks other speakers"


SEEDS_18 = (0, 1, 5)


def test_training_data_splits_song_like_all_from_a_data_dir(tmp_path):
    """The training script's own loading path: mapping CSV with actor 18 (speech only)."""
    from data_scripts.corpora.ravdess.download import download_and_map
    from data_scripts.corpora.ravdess.sample_archives import write_sample_archives
    from training.arguments import DataArguments
    from training.data.loading import load_prepared_dataset, split_for_training

    actors = tuple(range(15, 25))  # 2 test and 2 validation actors per split
    archives = write_sample_archives(
        tmp_path / "archives", actors, seconds=(0.2, 0.2), emotions=("neutral", "calm")
    )
    checksums = {a.path.name: (a.size, a.md5) for a in archives.values()}
    download_and_map(tmp_path / "data", archive_dir=tmp_path / "archives", checksums=checksums)
    chosen = {}
    for channel in ("all", "song", "speech"):
        for seed in SEEDS_18:
            data_args = DataArguments(
                data_dir=str(tmp_path / "data"),
                cache_dir=str(tmp_path / "cache"),
                vocal_channel=channel,
                split_seed=seed,
            )
            dataset, record = load_prepared_dataset(data_args)
            assert sorted(record["speakers"]) == [f"{a:02d}" for a in actors]
            _, info = split_for_training(dataset, data_args, record)
            chosen[channel, seed] = {
                name: {int(s) for s in info["splits"][name]["speakers"]}
                for name in ("test", "validation")
            }
    for seed in SEEDS_18:
        assert chosen["speech", seed] == chosen["all", seed]
        assert chosen["song", seed] == {k: v - {18} for k, v in chosen["all", seed].items()}
    # Actor 18 is held out in some of these seeds, else the check could not fail.
    assert {18} <= chosen["all", 0]["validation"] and {18} <= chosen["all", 5]["test"]


@pytest.mark.parametrize("channel", ["all", "speech"])
def test_training_evaluates_in_length_order_and_writes_nothing_beside_the_data(
    tmp_path, sample_data_dir, channel
):
    """Validation and test come in length order (little padding per batch), with the same rows
    as the split; train keeps its order; the saved dataset's folder is left as it was."""
    from data_scripts.corpora.prepare import main as prepare
    from training.arguments import DataArguments
    from training.data.loading import load_prepared_dataset, split_for_training

    prepared = tmp_path / "prepared"
    prepare(
        [
            "--data_dir",
            str(sample_data_dir),
            "--output_dir",
            str(prepared),
            "--cache_dir",
            str(tmp_path / "cache"),
        ]
    )
    before = sorted(path.name for path in prepared.iterdir())
    data_args = DataArguments(dataset_dir=str(prepared), vocal_channel=channel)
    dataset, record = load_prepared_dataset(data_args)
    splits, _ = split_for_training(dataset, data_args, record)
    actors = [int(speaker) for speaker in record["speakers"]]
    plain, _ = split_dataset(dataset, seed=data_args.split_seed, actors=actors)

    for name in ("validation", "test"):
        lengths = list(splits[name]["length"])
        assert len(set(lengths)) > 1 and lengths == sorted(lengths)
        assert sorted(splits[name]["file"]) == sorted(plain[name]["file"])
    assert splits["train"]["file"] == plain["train"]["file"]
    assert sorted(path.name for path in prepared.iterdir()) == before


def test_random_split_of_a_saved_dataset_works_and_draws_the_same_rows(rows, tmp_path):
    # datasets 5.2's train_test_split fails on any dataset read from disk when asked to keep
    # its result in memory (it names indices cache files anyway): the saved-dataset case.
    rows.save_to_disk(str(tmp_path / "saved"))
    saved = datasets.load_from_disk(str(tmp_path / "saved"))
    from_disk, in_memory = (split_dataset(d, "random", seed=0)[0] for d in (saved, rows))
    for name in SPLITS:
        assert from_disk[name]["file"] == in_memory[name]["file"] and len(from_disk[name])
