"""Documented commands stay true: each command line in the README and the docs/ pages parses
with today's parsers, and every installed command is documented.

`make demo` and the other tests run the same commands for real on the offline sample; this
file catches a flag renamed in code but not in the README (real data needs the network).
"""

from __future__ import annotations

import importlib
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from data_scripts.corpora import prepare
from data_scripts.corpora.ravdess import download as ravdess_download
from training.evaluation import compare_runs, cross_corpus
from training.arguments import parse_arguments
from training.inference import export, predict
from training.serving import serve, stream

REPO = Path(__file__).resolve().parent.parent
README = (REPO / "README.md").read_text()
# The front door and the reference pages it links: every command shown in any of them is checked.
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
DOCS = "\n".join(page.read_text() for page in PAGES)
# Commands users type whose modules moved: the old path, a shim, and where it points.
SHIMS = {
    "data_scripts.download_and_map_emotion_data": "data_scripts.corpora.ravdess.download",
    "data_scripts.ravdess": "data_scripts.corpora.prepare",
    "data_scripts.sample_archives": "data_scripts.corpora.ravdess.sample_archives",
}


def _bash_commands() -> list[list[str]]:
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", DOCS, flags=re.S):
        for command in block.replace("\\\n", " ").splitlines():
            words = shlex.split(command, comments=True)
            # The command's own words: what follows a pipe or a redirection is the shell's.
            for index, word in enumerate(words):
                if word in ("|", "<", ">", "&&") or word[:1] in ("<", ">"):
                    words = words[:index]
                    break
            if words and "..." not in words:
                commands.append(words)
    return commands


def _script_and_args(words: list[str]) -> tuple[str, list[str]]:
    """The module a command runs and its own arguments (after python/accelerate launch)."""
    if words[:2] == ["accelerate", "launch"]:
        config = words[words.index("--config_file") + 1]
        assert (REPO / config).is_file(), config
        words = words[words.index("-m") :]
    elif words[0] == "python":
        words = words[1:]
    else:
        return words[0], words[1:]
    if words[0] == "-m":
        return words[1], words[2:]
    return words[0].removesuffix(".py").replace("/", "."), words[1:]


def prepare_arguments(args: list[str]):
    """ser-prepare's parser and its check of which flags go with which --corpus."""
    parser = prepare.build_parser()
    parsed = parser.parse_args(args)
    prepare.check_combination(parser, parsed)
    return parsed


PARSERS = {
    "data_scripts.download_and_map_emotion_data": lambda args: (
        ravdess_download.build_parser().parse_args(args)
    ),
    "data_scripts.ravdess": prepare_arguments,
    "ser-prepare": prepare_arguments,
    "data_scripts.corpora.prepare": prepare_arguments,
    "training.inference.predict": predict.parse_args,
    "training.inference.export": lambda args: export.build_parser().parse_args(args),
    "ser-evaluate": lambda args: cross_corpus.build_parser().parse_args(args),
    "training.evaluation.cross_corpus": lambda args: cross_corpus.build_parser().parse_args(args),
    "training.wav2vec2_classification": parse_arguments,
    "ser-download": lambda args: ravdess_download.build_parser().parse_args(args),
    "ser-train": parse_arguments,
    "ser-predict": predict.parse_args,
    "ser-export": lambda args: export.build_parser().parse_args(args),
    "ser-compare": lambda args: compare_runs.build_parser().parse_args(args),
    "ser-serve": serve.parse_args,
    "ser-stream": stream.parse_args,
}
# Other programs the docs show (the build, package managers, HTTP clients, shell pipes).
OTHER_COMMANDS = {"make", "pip", "venv", "curl", "arecord", "ffmpeg", "sox", "espeak-ng"}

COMMANDS = _bash_commands()


def test_readme_opens_with_demo_and_test():
    quickstart = README.split("## Quickstart", 1)[1].split("##", 1)[0]
    assert "make demo" in quickstart and "make test" in quickstart


@pytest.mark.parametrize("words", COMMANDS, ids=[" ".join(c)[:60] for c in COMMANDS])
def test_readme_command_parses(words, tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    script, args = _script_and_args(words)
    if script in OTHER_COMMANDS:
        return
    assert script in PARSERS, f"README runs {script}, which no test checks"
    if "--bf16" in args:
        # TrainingArguments refuses bf16 without a GPU unless told the run is on CPU.
        args = [*args, "--use_cpu", "true"]
    PARSERS[script](args)


def test_every_installed_command_is_documented():
    setup = (REPO / "setup.cfg").read_text()
    for name in re.findall(r"^\s+(ser-[\w-]+) = ", setup, flags=re.M):
        assert f"`{name}" in DOCS or f"{name} " in DOCS, f"{name} is in no page of the docs"


def test_readme_mentions_every_command_the_project_installs():
    setup = (REPO / "setup.cfg").read_text()
    modules = re.findall(r"= ([\w.]+):main", setup)
    documented = {
        "data_scripts.download_and_map_emotion_data",
        "data_scripts.ravdess",
        "data_scripts.corpora.prepare",
        "training.wav2vec2_classification",
        "training.inference.predict",
        "training.inference.export",
        "training.evaluation.cross_corpus",
    }
    # RAVDESS preparation is installed as ser-prepare (its default corpus); the old module path
    # keeps working with `python -m` but is no console script of its own.
    not_installed = {"data_scripts.ravdess"}
    for module in documented:
        if module not in not_installed:
            assert SHIMS.get(module, module) in modules
        assert module.replace(".", "/") in DOCS or module in DOCS


@pytest.mark.parametrize("old", sorted(SHIMS))
def test_old_command_paths_run_the_moved_commands(old):
    """The shim at the old path is only the moved command's `main`."""
    assert importlib.import_module(old).main is importlib.import_module(SHIMS[old]).main


@pytest.mark.parametrize(
    "module",
    [
        "data_scripts.download_and_map_emotion_data",
        "data_scripts.ravdess",
        "data_scripts.sample_archives",
        "data_scripts.corpora.prepare",
        "training.wav2vec2_classification",
        "training.inference.predict",
        "training.inference.export",
        "training.evaluation.cross_corpus",
        "training.demo.stand_in_checkpoint",
        "training.demo",
    ],
)
def test_every_command_prints_its_help(module):
    result = subprocess.run(
        [sys.executable, "-m", module, "--help"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "usage:" in result.stdout
