"""Where `ser-evaluate` writes: a safe folder per corpus, never over the model folder's own
files, and never silently over an earlier result."""

from __future__ import annotations

from pathlib import Path

import pytest
from model_helpers import save_tiny_classifier
from training_helpers import read_json

from data_scripts.corpora.corpus_record import safe_folder_name
from data_scripts.corpora.prepare import main as prepare_main
from data_scripts.corpora.ravdess.sample_archives import write_voice_file
from training.evaluation.cross_corpus import main as evaluate_main


def _manifest_corpus(csv_path: Path, cache: Path) -> Path:
    """A prepared manifest corpus: four clips of two classes listed in `csv_path`."""
    folder = csv_path.parent
    rows = []
    for n, label in enumerate(("angry", "sad", "angry", "sad")):
        write_voice_file(folder / f"clip{n}.wav", label, n % 2 == 0, n, sampling_rate=16_000,
                         seconds=(0.5, 0.6))  # fmt: skip
        rows.append(f"clip{n}.wav,{label}\n")
    csv_path.write_text("path,label\n" + "".join(rows))
    prepared = folder.parent / f"{folder.name}_prepared"
    prepare_main(["--corpus", "manifest", "--manifest", str(csv_path),
                  "--output_dir", str(prepared), "--cache_dir", str(cache)])  # fmt: skip
    return prepared


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    model = save_tiny_classifier(tmp_path_factory.mktemp("model"))
    (model / "README.md").write_text("the model card\n")
    (model / "test_predictions.csv").write_text("file,label\nthe run's own table\n")
    return model


def test_corpus_names_become_safe_folder_names():
    names = ("..", ".", "", "../x", "a/b\\c", ".hidden", "crema_d")
    expected = ["corpus", "corpus", "corpus", "_x", "a_b_c", "hidden", "crema_d"]
    assert [safe_folder_name(name) for name in names] == expected


def test_a_corpus_named_dot_dot_never_writes_over_the_model_folder(model_dir, tmp_path):
    """A manifest called `...csv` names its corpus `..`: its results used to replace the model
    folder's own README.md and test_predictions.csv."""
    prepared = _manifest_corpus(tmp_path / "clips" / "...csv", tmp_path / "cache")
    before = _snapshot(model_dir)
    out = tmp_path / "out"
    assert evaluate_main(["--model_dir", str(model_dir), "--dataset_dir", str(prepared),
                          "--output_dir", str(out)]) == 0  # fmt: skip
    result = read_json(out / "cross_corpus" / "corpus" / "results.json")
    assert result["folder"] == "cross_corpus/corpus"
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == [
        "cross_corpus/corpus/README.md",
        "cross_corpus/corpus/results.json",
        "cross_corpus/corpus/test_predictions.csv",
    ]
    # Into the model folder itself (the default --output_dir): its own files stay.
    evaluate_main(["--model_dir", str(model_dir), "--dataset_dir", str(prepared)])
    after = _snapshot(model_dir)
    assert {name: after[name] for name in before} == before
    assert set(after) - set(before) == {
        f"cross_corpus/corpus/{name}"
        for name in ("README.md", "results.json", "test_predictions.csv")
    }


def test_a_second_result_never_silently_replaces_the_first(model_dir, tmp_path, capsys):
    """Two corpora with one name (two manifests `clips.csv`, like two RAVDESS datasets) used to
    leave one folder; the same evaluation again is refused without --overwrite."""
    cache = tmp_path / "cache"
    first = _manifest_corpus(tmp_path / "a" / "clips.csv", cache)
    second = _manifest_corpus(tmp_path / "b" / "clips.csv", cache)
    out = tmp_path / "out"
    assert evaluate_main(["--model_dir", str(model_dir), "--dataset_dir", str(first),
                          "--dataset_dir", str(second), "--output_dir", str(out)]) == 0  # fmt: skip
    results = [read_json(out / "cross_corpus" / n / "results.json") for n in ("clips", "clips-2")]
    assert [r["folder"] for r in results] == ["cross_corpus/clips", "cross_corpus/clips-2"]
    assert read_json(out / "cross_corpus" / "clips" / "results.json")["dataset_dir"] == str(first)
    assert read_json(out / "cross_corpus" / "clips-2" / "results.json")["dataset_dir"] == str(
        second
    )
    before = _snapshot(out)
    with pytest.raises(SystemExit) as exited:
        evaluate_main(["--model_dir", str(model_dir), "--dataset_dir", str(first),
                       "--output_dir", str(out)])  # fmt: skip
    assert exited.value.code == 1
    error = capsys.readouterr().err
    assert (
        f"error: {out / 'cross_corpus' / 'clips'}: holds an earlier evaluation of {first} with "
        "this model; pass --overwrite to replace it"
    ) in error
    assert "Traceback" not in error
    assert _snapshot(out) == before
    assert evaluate_main(["--model_dir", str(model_dir), "--dataset_dir", str(first),
                          "--output_dir", str(out), "--overwrite"]) == 0  # fmt: skip
    again = read_json(out / "cross_corpus" / "clips" / "results.json")
    assert again["folder"] == "cross_corpus/clips"
    assert sorted(p.name for p in (out / "cross_corpus").iterdir()) == ["clips", "clips-2"]
