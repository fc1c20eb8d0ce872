"""Model folders never run their own Python: refuse an `auto_map`, load with trust_remote_code off.

A `config.json` or `preprocessor_config.json` with an `auto_map` names Python files of the
folder for transformers to import; transformers then asked `[y/N]` on the terminal, and
`echo y | ser-predict --model_dir M clip.wav` ran the folder's code. Every command that loads a
model, config or feature extractor refuses such a folder in one line first, and passes
`trust_remote_code=False` to transformers as well (a hub id cannot be checked before download).
"""

from __future__ import annotations

import json
from pathlib import Path

from transformers import AutoFeatureExtractor, FeatureExtractionMixin

# The files transformers reads an `auto_map` from when it loads a model folder.
CODE_NAMING_FILES = (
    "config.json",
    "preprocessor_config.json",
    "processor_config.json",
    "tokenizer_config.json",
)


class RemoteCodeError(ValueError):
    """The folder asks transformers to import Python files of its own."""


def refuse_remote_code(path: str | Path, flag: str = "--model_dir") -> None:
    """RemoteCodeError naming `flag`, the file and its `auto_map` when the model folder at
    `path` (or the JSON file `path`) asks for code of its own; nothing when there is none."""
    path = Path(path)
    files = [path] if path.is_file() else [path / name for name in CODE_NAMING_FILES]
    for file in files:
        if file.suffix != ".json" or not file.is_file():
            continue
        try:
            settings = json.loads(file.read_text())
        except (OSError, ValueError):
            continue  # unreadable: the loader names it
        auto_map = settings.get("auto_map") if isinstance(settings, dict) else None
        if auto_map:
            values = auto_map.values() if isinstance(auto_map, dict) else [auto_map]
            modules = sorted({str(v).split("--")[-1].split(".")[0] for v in values if v})
            raise RemoteCodeError(
                f"{flag} {path}: {file.name} asks to run Python code from the model folder "
                f"(auto_map: {', '.join(modules)}); this project never runs a model's own "
                "code: use a folder written by training or export"
            )


def load_feature_extractor(model_dir: str | Path, flag: str = "--model_dir"):
    """The folder's feature extractor, after refusing remote code; transformers' own code only."""
    refuse_remote_code(model_dir, flag)
    extractor: FeatureExtractionMixin = AutoFeatureExtractor.from_pretrained(
        model_dir, trust_remote_code=False
    )
    return extractor
