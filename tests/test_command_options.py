"""Every command's options from an `--options` YAML file under its flags: values from the file,
the flag winning over it, unknown keys and bad values refused in one line naming the file and
key, bad flags in one line naming the flag, and every option listed by `--help`.

In-process checks read the parsed options object each command's main uses; the installed
scripts run in subprocesses for the real effect (files written where the winning value says).
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile
from model_helpers import save_tiny_classifier

from data_scripts.corpora import prepare
from data_scripts.corpora.ravdess import download, sample_archives
from training.arguments import parse_arguments
from training.demo import demo
from training.evaluation import compare_runs, cross_corpus
from training.inference import export_options, predict
from training.serving import serve, stream

BIN = Path(sys.executable).parent
MODULES = {
    "ser-download": download, "ser-prepare": prepare, "ser-sample-archives": sample_archives,
    "ser-evaluate": cross_corpus, "ser-predict": predict, "ser-export": export_options,
    "ser-compare": compare_runs, "ser-demo": demo, "ser-serve": serve, "ser-stream": stream,
}  # fmt: skip


def _parse(command: str, *argv: str):
    """(options, debug) exactly as the command's main gets them."""
    module = MODULES[command]
    if hasattr(module, "parse_options"):
        return module.parse_options(list(argv))
    return module.build_parser().parse_command(list(argv))


def _yaml(tmp_path: Path, text: str, name: str = "options.yaml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


# command: (the file, the command line besides --options, what the options must hold)
CASES = {
    "ser-download": (
        "data_dir: from_file\nbase_url: http://127.0.0.1:9/mirror\nno_verify: true\n",
        ["--data_dir", "from_flag"],
        {"data_dir": "from_flag", "base_url": "http://127.0.0.1:9/mirror", "no_verify": True},
    ),
    "ser-prepare": (
        "corpus: tess\ndata_dir: TESS\noutput_dir: data/tess\nnum_proc: 3\nlabels: calm\n",
        ["--num_proc", "1"],
        {
            "corpus": "tess",
            "data_dir": "TESS",
            "output_dir": "data/tess",
            "num_proc": 1,
            "labels": "calm",
            "config": "all",
        },
    ),  # fmt: skip
    "ser-sample-archives": (
        "actors: 1-2\nmin_seconds: 0.5\nseed: 5\n",
        ["--seed", "7"],
        {"actors": "1-2", "min_seconds": 0.5, "max_seconds": 1.6, "seed": 7},
    ),
    "ser-evaluate": (
        "model_dir: runs/a\ndataset_dir: [data/x, data/y]\nbatch_size: 4\noverwrite: true\n",
        ["--dataset_dir", "data/z", "--no_overwrite"],
        {"model_dir": "runs/a", "dataset_dir": ["data/z"], "batch_size": 4, "overwrite": False},
    ),
    "ser-predict": (
        "model_dir: runs/a\nvad: none\npaths: [a.wav]\ntimeline: true\nhop_seconds: 1\n",
        ["b.wav", "c.wav", "--vad", "silero", "--json", "out.json"],
        {
            "model_dir": "runs/a",
            "paths": ["b.wav", "c.wav"],
            "vad": "silero",
            "timeline": True,
            "hop_seconds": 1.0,
            "json": "out.json",
            "batch_size": 8,
        },
    ),  # fmt: skip
    "ser-export": (
        "onnx: true\nquantize: int8\naudio_dir: [clips]\nverify_files: 5\n",
        ["runs/a", "exported/a", "--audio_dir", "x", "--audio_dir", "y", "--verify_files", "2"],
        {
            "source": "runs/a",
            "dest": "exported/a",
            "onnx": True,
            "quantize": "int8",
            "audio_dir": ["x", "y"],
            "verify_files": 2,
        },
    ),  # fmt: skip
    "ser-compare": (
        "resamples: 50\njson: true\n",
        ["runs/a", "runs/b", "--resamples", "20"],
        {"a": "runs/a", "b": "runs/b", "resamples": 20, "json": True, "seed": 0},
    ),
    "ser-demo": (
        "output_dir: demo_elsewhere\nepochs: 2\n",
        ["--epochs", "3"],
        {"output_dir": "demo_elsewhere", "epochs": 3},
    ),
    "ser-serve": (
        "model_dir: exported/a\nport: 9000\nworkers: 2\nbackend: onnxruntime\n",
        ["--port", "9001"],
        {
            "model_dir": "exported/a",
            "port": 9001,
            "workers": 2,
            "backend": "onnxruntime",
            "host": "127.0.0.1",
        },
    ),  # fmt: skip
    "ser-stream": (
        "model_dir: runs/a\nformat: f32le\nchannels: 2\n",
        ["--channels", "1"],
        {"model_dir": "runs/a", "format": "f32le", "channels": 1, "input": "mic"},
    ),
}


@pytest.mark.parametrize("command", sorted(CASES))
def test_the_options_file_fills_the_options_and_flags_win(command, tmp_path):
    text, argv, expected = CASES[command]
    options, debug = _parse(command, "--options", _yaml(tmp_path, text), *argv)
    assert {key: getattr(options, key) for key in expected} == expected
    assert debug is False


def test_every_command_is_covered():
    assert set(CASES) == set(MODULES)


def test_a_base_file_is_read_first_and_the_including_file_wins(tmp_path):
    _yaml(tmp_path, "port: 9000\nworkers: 3\nqueue_size: 4\n", "shared.yaml")
    path = _yaml(tmp_path, "base: shared.yaml\nport: 9100\n")
    options, _ = _parse("ser-serve", "runs/a", "--options", path, "--queue_size", "5")
    assert (options.port, options.workers, options.queue_size) == (9100, 3, 5)


def test_training_takes_the_same_flag_as_every_command(tmp_path):
    path = _yaml(tmp_path, "learning_rate: 0.001\nnum_train_epochs: 3\n")
    _, _, training_args = parse_arguments(["--options", path, "--num_train_epochs", "4",
        "--model_path", "ckpt", "--dataset_dir", "prepared", "--output_dir", "out"])  # fmt: skip
    assert (training_args.learning_rate, training_args.num_train_epochs) == (0.001, 4)


def test_a_switch_does_not_swallow_the_positional_after_it_and_lists_add_up():
    options, debug = _parse("ser-predict", "--timeline", "a.wav", "--model_dir", "m", "--debug")
    assert (options.paths, options.timeline, debug) == (["a.wav"], True, True)
    options, _ = _parse("ser-export", "--onnx", "--overwrite", "runs/a", "exported/a")
    assert (options.source, options.dest, options.onnx, options.overwrite) == (
        "runs/a", "exported/a", True, True)  # fmt: skip
    options, _ = _parse("ser-evaluate", "--model_dir", "m", "--dataset_dir", "a",
                        "--dataset_dir", "b")  # fmt: skip
    assert options.dataset_dir == ["a", "b"]


def _one_line_refusal(capsys, command: str, *argv: str) -> str:
    with pytest.raises(SystemExit) as stopped:
        _parse(command, *argv)
    assert stopped.value.code == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in captured.err, captured.err
    return lines[0]


@pytest.mark.parametrize(
    "command, text, named",
    [
        ("ser-evaluate", "model_dir: m\ndataset_dir: [d]\nbatch_sise: 4\n", "batch_sise"),
        ("ser-predict", "vad: loud\n", "vad: 'loud' is not one of silero, none"),
        ("ser-serve", "port: eighty\n", "port: invalid int value 'eighty'"),
        ("ser-export", "onnx: maybe\n", "onnx: give true or false"),
        ("ser-stream", "channels: [1, 2]\n", "channels: give one value"),
    ],
)
def test_a_bad_key_or_value_in_the_file_is_refused_in_one_line_naming_file_and_key(
    command, text, named, tmp_path, capsys
):
    path = _yaml(tmp_path, text)
    argv = {"ser-predict": ["a.wav", "--model_dir", "m"], "ser-serve": ["m"],
            "ser-export": ["a", "b"], "ser-stream": ["m"]}.get(command, [])  # fmt: skip
    line = _one_line_refusal(capsys, command, "--options", path, *argv)
    assert line.startswith(f"{command}: error: {path}: ") and named in line


def test_an_abbreviated_options_flag_is_refused_not_ignored(tmp_path, capsys):
    path = _yaml(tmp_path, "resamples: 50\n")
    line = _one_line_refusal(capsys, "ser-compare", "a", "b", "--opt", path)
    assert "spell out --options" in line


def test_an_unreadable_or_broken_file_is_refused_in_one_line(tmp_path, capsys):
    line = _one_line_refusal(capsys, "ser-compare", "a", "b", "--options", str(tmp_path / "no"))
    assert f"{tmp_path / 'no'}: cannot read the options file" in line
    broken = _yaml(tmp_path, "resamples: [1\n")
    line = _one_line_refusal(capsys, "ser-compare", "a", "b", "--options", broken)
    assert f"{broken}: not valid YAML" in line


@pytest.mark.parametrize(
    "command, argv, flag",
    [
        ("ser-predict", ["a.wav", "--model_dir", "m", "--vad", "loud"], "--vad"),
        ("ser-prepare", ["--corpus", "timit", "--output_dir", "o"], "--corpus"),
        ("ser-stream", ["m", "--format", "mp3"], "--format"),
        ("ser-export", ["a", "b", "--quantize", "int4"], "--quantize"),
        ("ser-serve", ["m", "--port", "http"], "--port"),
    ],
)
def test_a_bad_flag_is_refused_in_one_line_naming_it(command, argv, flag, capsys):
    line = _one_line_refusal(capsys, command, *argv)
    assert line.startswith(f"{command}: error: argument {flag}")


@pytest.mark.parametrize("command", sorted(MODULES))
def test_help_exits_0_and_lists_every_option(command, capsys):
    with pytest.raises(SystemExit) as stopped:
        _parse(command, "--help")
    assert stopped.value.code == 0
    shown = capsys.readouterr().out
    parser = MODULES[command].build_parser()
    (options_class,) = parser.dataclass_types
    for field in dataclasses.fields(options_class):
        positional = field.metadata.get("positional")
        assert (field.name if positional else f"--{field.name}") in shown, field.name
    assert "--options FILE.yaml" in shown and "--debug" in shown


# The installed scripts, run as a user runs them.


def _run(command: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}", HF_HUB_OFFLINE="1")
    return subprocess.run([str(BIN / command), *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)  # fmt: skip


def _archive_contents(folder: Path) -> dict[str, dict[str, int]]:
    """Each zip's members and their CRCs (the zips' own bytes hold the time they were written)."""
    return {
        path.name: {info.filename: info.CRC for info in zipfile.ZipFile(path).infolist()}
        for path in sorted(folder.glob("*.zip"))
    }


def test_installed_sample_archives_from_a_file_match_the_same_flags(tmp_path):
    """The file's values do what the same flags do (the same audio in the same archives), and
    the flag given beside the file wins over the file (the seed, the folder)."""
    flags = _run("ser-sample-archives", "--output_dir", "by_flags", "--actors", "2",
                 "--min_seconds", "0.5", "--max_seconds", "0.6", "--seed", "3",
                 cwd=tmp_path)  # fmt: skip
    assert flags.returncode == 0, flags.stderr
    path = _yaml(tmp_path, "output_dir: by_file\nactors: '2'\nmin_seconds: 0.5\n"
                 "max_seconds: 0.6\nseed: 9\n")  # fmt: skip
    from_file = _run("ser-sample-archives", "--options", path, "--seed", "3",
                     "--output_dir", "overridden", cwd=tmp_path)  # fmt: skip
    assert from_file.returncode == 0, from_file.stderr
    assert not (tmp_path / "by_file").exists()
    expected = _archive_contents(tmp_path / "by_flags")
    assert sorted(expected) == ["Audio_Song_Actors_01-24.zip", "Audio_Speech_Actors_01-24.zip"]
    assert all(name.startswith("Actor_02/") for names in expected.values() for name in names)
    assert _archive_contents(tmp_path / "overridden") == expected
    # The file's own seed (9) gives other voices: the flag's 3 was the one used above.
    seed_9 = _run("ser-sample-archives", "--options", path, cwd=tmp_path)
    assert seed_9.returncode == 0, seed_9.stderr
    assert _archive_contents(tmp_path / "by_file") != expected


def test_installed_predict_writes_where_the_flag_says_over_the_file(tmp_path):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    model = save_tiny_classifier(tmp_path / "model")
    tone = 0.3 * np.sin(2 * np.pi * 220 * np.arange(16_000) / 16_000)
    soundfile.write(tmp_path / "clip.wav", tone.astype(np.float32), 16_000)
    path = _yaml(tmp_path, f"model_dir: {model}\nvad: none\njson: from_file.json\n")
    result = _run("ser-predict", "--options", path, "clip.wav", "--json", "from_flag.json",
                  cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "from_file.json").exists()
    (answer,) = json.loads((tmp_path / "from_flag.json").read_text())["results"]
    assert answer["file"].endswith("clip.wav") and answer["scored"] == "whole"


def test_installed_commands_refuse_a_bad_file_or_flag_in_one_line(tmp_path):
    path = _yaml(tmp_path, "model_dir: m\ndataset_dir: d\nbootstrap_seeds: 3\n")
    refused = _run("ser-evaluate", "--options", path, cwd=tmp_path)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert refused.stderr.strip() == (
        f"ser-evaluate: error: {path}: unknown option bootstrap_seeds for ser-evaluate "
        "(see ser-evaluate --help)"
    )
    refused = _run("ser-stream", "m", "--vad", "webrtc", cwd=tmp_path)
    assert refused.returncode == 2 and len(refused.stderr.strip().splitlines()) == 1
    assert "argument --vad: invalid choice: 'webrtc'" in refused.stderr


def test_logging_is_set_up_in_one_place():
    """No command configures the root logger itself: command_logging.setup_logging does, once."""
    repo = Path(__file__).resolve().parent.parent
    callers = sorted(
        str(path.relative_to(repo))
        for folder in ("data_scripts", "training")
        for path in (repo / folder).rglob("*.py")
        if "logging.basicConfig(" in path.read_text()
    )
    assert callers == ["data_scripts/common/command_logging.py"]


def test_installed_command_logs_in_the_shared_format(tmp_path):
    (tmp_path / "archives").mkdir()
    result = _run("ser-download", "--data_dir", "data", "--archive_dir", "archives",
                  "--no_verify", cwd=tmp_path)  # fmt: skip
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} WARNING data_scripts\.corpora\.ravdess\.download: "
        r"--no_verify: archive sizes and MD5s are not checked",
        lines[0],
    ), lines
    assert lines[1].startswith("error: archives/") and "Traceback" not in result.stderr
