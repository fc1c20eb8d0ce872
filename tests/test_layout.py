"""The rooms of `data_scripts/` and `training/` and the way imports run between them
(docs/architecture.md).

data_scripts.common <- data_scripts.corpora.ravdess <- data_scripts.corpora (the interface, the
other corpora, the builder, ser-prepare) <- the old command paths at data_scripts/'s root (shims
only). training imports the first three, never a shim: training.model <- training.reports <-
training.run_folder and training.inference; training.data (loading, combining, splitting,
batching) <- training.trainer (the Trainer's extensions) <- training.probing; training.inference
<- training.evaluation (its cross-corpus scoring uses inference's classifier; the data side
never imports evaluation); training.augment (corruptions of audio) <- training.evaluation (the
robustness conditions); all of them <- the run's command at training/'s top;
training.serving (server, stream) <- training.demo and bench/.
Checked from the source (every import, also those inside functions), so a wrong-way import fails
here before it becomes a cycle.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
ROOMS = (
    "model", "reports", "run_folder", "inference", "serving", "demo",
    "data", "trainer", "probing", "evaluation", "augment",
)  # fmt: skip
# The rooms of data_scripts, innermost first: what every corpus uses, RAVDESS's folder, the
# other corpora with the interface and builder, and the package root (the command shims).
DATA_ROOMS = ("data_scripts.common", "data_scripts.corpora.ravdess", "data_scripts.corpora")
# What training may import of data_scripts: the rooms, not the shims.
DATA = set(DATA_ROOMS)
# What each part may import from the project, besides itself.
ALLOWED = {
    "data_scripts.common": set(),
    "data_scripts.corpora.ravdess": {"data_scripts.common"},
    "data_scripts.corpora": {"data_scripts.common", "data_scripts.corpora.ravdess"},
    "data_scripts": {"data_scripts.corpora.ravdess", "data_scripts.corpora"},
    "training.model": DATA,
    "training.reports": DATA | {"training.model"},
    "training.run_folder": DATA | {"training.model"},
    "training.inference": DATA | {"training.model", "training.reports"},
    "training.serving": DATA | {"training.model", "training.reports", "training.inference"},
    # The data side reads prepared corpora; it knows nothing of models, training or scoring.
    "training.data": DATA,
    "training.trainer": DATA | {"training.model", "training.data"},
    "training.probing": DATA | {"training.model", "training.data", "training.trainer"},
    # Corruptions of audio (augmentation, robustness conditions): signal code only.
    "training.augment": DATA,
    # Cross-corpus evaluation scores clips with inference's EmotionClassifier; the robustness
    # conditions corrupt them first.
    "training.evaluation": DATA
    | {"training.model", "training.reports", "training.inference", "training.augment"},
    # The run's command at training/'s top puts the rooms together.
    "training": DATA
    | {
        "training.model",
        "training.reports",
        "training.run_folder",
        "training.inference",
        "training.data",
        "training.trainer",
        "training.probing",
        "training.evaluation",
        "training.augment",
    },
    "training.demo": DATA
    | {
        "training.model",
        "training.reports",
        "training.run_folder",
        "training.inference",
        "training",
    },
}


def _part(module: str) -> str:
    """The room a dotted module name belongs to."""
    if module.split(".")[0] == "data_scripts":
        for room in DATA_ROOMS:
            if module == room or module.startswith(room + "."):
                return room
        return "data_scripts"
    parts = module.split(".")
    if len(parts) > 1 and parts[1] in ROOMS:
        return f"training.{parts[1]}"
    return "training"


def _module_name(path: Path) -> str:
    name = ".".join(path.relative_to(REPO).with_suffix("").parts)
    return name.removesuffix(".__init__")


def _project_imports(path: Path) -> set[str]:
    """Project modules `path` imports at run time (not those under `if TYPE_CHECKING:`)."""
    tree = ast.parse(path.read_text())
    skipped = {
        id(node)
        for guard in ast.walk(tree)
        if isinstance(guard, ast.If) and "TYPE_CHECKING" in ast.unparse(guard.test)
        for node in ast.walk(guard)
    }
    found = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return {name for name in found if name.split(".")[0] in ("data_scripts", "training")}


SOURCES = sorted(
    p for folder in ("data_scripts", "training") for p in (REPO / folder).rglob("*.py")
    if "metrics" not in p.parts  # the evaluate module is loaded by path, not imported
)  # fmt: skip


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(REPO)))
def test_imports_run_one_way_between_rooms(path):
    own = _part(_module_name(path))
    wrong = {
        name
        for name in _project_imports(path)
        if _part(name) != own and _part(name) not in ALLOWED[own]
    }
    assert not wrong, f"{own} may not import {sorted(wrong)}"


# The one module of training/ that may name RAVDESS's internals: the demo runs its sample
# generator. Everything else reads a corpus through the interface and its corpus.json.
RAVDESS_INTERNALS = "data_scripts.corpora.ravdess"


@pytest.mark.parametrize(
    "path",
    [p for p in SOURCES if p.relative_to(REPO).parts[0] == "training"],
    ids=lambda p: str(p.relative_to(REPO)),
)
def test_training_does_not_import_ravdess_internals_except_the_demo(path):
    if "demo" in path.relative_to(REPO).parts:
        return
    named = {
        name
        for name in _project_imports(path)
        if name == RAVDESS_INTERNALS or name.startswith(RAVDESS_INTERNALS + ".")
    }
    assert not named, f"{path.name} imports {sorted(named)}: read the corpus's corpus.json instead"


# training/'s top holds the run's command and what only it uses; the work is in the rooms.
MOST_LOOSE_MODULES = 8


def test_training_top_holds_at_most_a_few_loose_modules():
    loose = sorted(p.name for p in (REPO / "training").glob("*.py") if p.name != "__init__.py")
    assert len(loose) <= MOST_LOOSE_MODULES, f"move some of {loose} into a room"


@pytest.mark.parametrize(
    "path",
    sorted((REPO / "training" / "data").rglob("*.py")),
    ids=lambda p: str(p.relative_to(REPO)),
)
def test_data_does_not_import_evaluation(path):
    """Scoring is handed to the data side by its caller, never imported by it."""
    named = {n for n in _project_imports(path) if _part(n) == "training.evaluation"}
    assert not named, f"{path.name} imports {sorted(named)}"


def test_no_module_shares_a_name_with_a_function_elsewhere():
    """A name says one thing: no function `x` in training/ outside a module `x.py` (the module's
    own main function may carry its name)."""
    paths = [p for p in (REPO / "training").rglob("*.py") if p.name != "__init__.py"]
    modules = {p.stem for p in paths}
    for path in paths:
        tree = ast.parse(path.read_text())
        functions = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
        shared = functions & (modules - {path.stem})
        assert not shared, f"{path}: {sorted(shared)} also name modules"


def test_no_import_cycles_between_modules():
    modules = {_module_name(p): p for p in SOURCES}
    graph = {
        name: {imp for imp in _project_imports(path) if imp in modules and imp != name}
        for name, path in modules.items()
    }
    state: dict[str, str] = {}

    def visit(name: str, trail: list[str]) -> None:
        state[name] = "open"
        for target in graph[name]:
            assert state.get(target) != "open", " -> ".join([*trail, name, target])
            if target not in state:
                visit(target, [*trail, name])
        state[name] = "done"

    for name in graph:
        if name not in state:
            visit(name, [])


def test_every_room_says_its_job_and_stays_small():
    folders = [REPO / "training" / room for room in ROOMS]
    folders += [REPO.joinpath(*room.split(".")) for room in DATA_ROOMS]
    for folder in folders:
        docstring = ast.get_docstring(ast.parse((folder / "__init__.py").read_text()))
        assert docstring and "\n" not in docstring.strip(), folder
    for path in SOURCES:
        assert len(path.read_text().splitlines()) <= 400, path
    for path in (REPO / "data_scripts").rglob("*.py"):
        assert ast.get_docstring(ast.parse(path.read_text())), f"{path}: no docstring"


def test_data_scripts_root_holds_only_command_shims():
    """A module beside data_scripts/__init__.py only keeps an old command path working: it
    imports the moved command's `main` and runs it; the work is in common/ and corpora/."""
    for path in sorted((REPO / "data_scripts").glob("*.py")):
        if path.name == "__init__.py":
            continue
        tree = ast.parse(path.read_text())
        project = [
            [alias.name for alias in node.names]
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("data_scripts")
        ]
        assert project == [["main"]], path
        assert not [n for n in tree.body if isinstance(n, ast.FunctionDef | ast.ClassDef)], path


def test_inference_imports_neither_the_trainer_nor_datasets():
    """Using a saved classifier loads no training machinery (a fresh process, every module)."""
    modules = sorted(_module_name(p) for p in (REPO / "training" / "inference").glob("*.py"))
    script = (
        f"import importlib, sys\nfor m in {modules!r}: importlib.import_module(m)\n"
        "print(sorted(m for m in ('datasets', 'pyarrow', 'evaluate', 'transformers.trainer')"
        " if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, env=dict(os.environ, PYTHONPATH=str(REPO)),
        capture_output=True, text=True, timeout=180, check=True,
    )  # fmt: skip
    assert result.stdout.strip() == "[]"


def test_metric_module_loads_from_an_installed_wheel(tmp_path):
    """The metrics module is package data: a built (non-editable) wheel carries it, and
    `evaluate.load` of it works from the installed copy, not from this checkout."""
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(tmp_path / "dist"), str(REPO)],
        check=True, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    (wheel,) = (tmp_path / "dist").glob("ser_wav2vec2-*.whl")
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    assert (site / "training" / "reports" / "metrics" / "emotion_metrics.py").is_file()
    script = (
        "import evaluate, training.reports.scores as s\n"
        "assert s.METRIC_MODULE.startswith(sys.argv[1]), s.METRIC_MODULE\n"
        "r = evaluate.load(s.METRIC_MODULE).compute(predictions=[0, 1, 1], references=[0, 1, 0],"
        " label_names=['a', 'b'])\nprint(round(r['accuracy'], 4))"
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = subprocess.run(
        [sys.executable, "-c", "import sys\n" + script, str(site)], cwd=elsewhere,
        env=dict(os.environ, PYTHONPATH=str(site), HF_HUB_OFFLINE="1"),
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "0.6667"
