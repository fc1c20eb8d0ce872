"""Documented commands stay true: each command line in the README and the docs/ pages parses
with today's parsers, and every installed command is documented.

`make demo` and the other tests run the same commands for real on the offline sample; this
file catches a flag renamed in code but not in the README (real data needs the network).
"""

from __future__ import annotations

import importlib
import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from data_scripts.corpora import prepare
from data_scripts.corpora.ravdess import download as ravdess_download
from training.arguments import parse_arguments
from training.evaluation import compare_runs, cross_corpus
from training.inference import export_options, predict
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


def _options(module):
    """The command's options as its main parses them (cross-flag checks included)."""
    if hasattr(module, "parse_options"):
        return module.parse_options
    return lambda args: module.build_parser().parse_command(args)


PARSERS = {
    "data_scripts.download_and_map_emotion_data": _options(ravdess_download),
    "data_scripts.ravdess": _options(prepare),
    "ser-prepare": _options(prepare),
    "data_scripts.corpora.prepare": _options(prepare),
    "training.inference.predict": _options(predict),
    "training.inference.export": _options(export_options),
    "ser-evaluate": _options(cross_corpus),
    "training.evaluation.cross_corpus": _options(cross_corpus),
    "training.wav2vec2_classification": parse_arguments,
    "ser-download": _options(ravdess_download),
    "ser-train": parse_arguments,
    "ser-predict": _options(predict),
    "ser-export": _options(export_options),
    "ser-compare": _options(compare_runs),
    "ser-serve": _options(serve),
    "ser-stream": _options(stream),
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


HELP_MODULES = [
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
]
# Runs each module as `python -m NAME --help` does (runpy with run_name="__main__" and sys.argv
# set), all from one fresh process: torch and transformers are imported once, then each module
# runs in a child forked before any project module is imported, so no module's help leans on
# imports an earlier one made. Each module's exit code and output are recorded apart, so each
# still passes or fails by name below.
_HELP_SCRIPT = """
import contextlib, io, json, os, runpy, sys, traceback
import torch, transformers, transformers.modeling_utils, transformers.trainer
assert not any(m.split(".")[0] in ("training", "data_scripts") for m in sys.modules)
names, folder, answers = json.loads(sys.argv[1]), sys.argv[2], {}
for number, name in enumerate(names):
    answer_file = os.path.join(folder, f"{number}.json")
    child = os.fork()
    if child == 0:
        out, err = io.StringIO(), io.StringIO()
        sys.argv = [name, "--help"]
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                runpy.run_module(name, run_name="__main__", alter_sys=True)
                code = 0
            except SystemExit as stop:  # what the interpreter makes of sys.exit's argument
                code = stop.code if isinstance(stop.code, int) else int(stop.code is not None)
                if stop.code is not None and not isinstance(stop.code, int):
                    print(stop.code, file=sys.stderr)
            except BaseException:
                traceback.print_exc()
                code = 1
        with open(answer_file, "w") as handle:
            json.dump({"code": code, "stdout": out.getvalue(), "stderr": err.getvalue()}, handle)
        os._exit(0)
    status = os.waitpid(child, 0)[1]
    if os.path.exists(answer_file):
        with open(answer_file) as handle:
            answers[name] = json.load(handle)
    else:  # the child died before it could say anything
        answers[name] = {"code": -1, "stdout": "", "stderr": f"child died, wait status {status}"}
with open(os.path.join(folder, "answers.json"), "w") as handle:
    json.dump(answers, handle)
"""


@pytest.fixture(scope="module")
def help_answers(tmp_path_factory) -> dict[str, dict]:
    """{module: {code, stdout, stderr}} of `python -m MODULE --help`, from one process."""
    folder = tmp_path_factory.mktemp("help")
    result = subprocess.run(
        [sys.executable, "-c", _HELP_SCRIPT, json.dumps(HELP_MODULES), str(folder)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads((folder / "answers.json").read_text())


@pytest.mark.parametrize("module", HELP_MODULES)
def test_every_command_prints_its_help(module, help_answers):
    answer = help_answers[module]
    assert answer["code"] == 0, answer["stderr"][-2000:]
    assert "usage:" in answer["stdout"]
