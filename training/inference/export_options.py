"""ser-export's options, declared once: the command line (or an `--options` file) fills them and
`export_model` reads them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from data_scripts.common.command_options import CommandParser

QUANTIZATIONS = ("int8",)


@dataclass
class ExportOptions:
    """ser-export's options (flags, or keys of an `--options` file)."""

    source: str | None = field(
        default=None,
        metadata={"positional": True, "nargs": "?",
                  "help": "a finished run, a CV folder, a model folder"},
    )  # fmt: skip
    dest: str | None = field(
        default=None,
        metadata={"positional": True, "nargs": "?", "help": "the folder to create"},
    )
    check: str | None = field(
        default=None, metadata={"metavar": "DEST", "help": "re-check an export's checksums"}
    )
    fold: int | None = field(
        default=None, metadata={"help": "the fold of a cross-validation SOURCE"}
    )
    overwrite: bool = field(default=False, metadata={"help": "replace an earlier export"})
    verify_files: int | None = field(
        default=None, metadata={"help": "test files to check with pipeline (default: all)"}
    )
    audio_dir: list[str] = field(
        default_factory=list,
        metadata={"nargs": None, "help": "where the test audio is (repeatable)"},
    )
    onnx: bool = field(default=False, metadata={"help": "also write model.onnx"})
    quantize: Literal[QUANTIZATIONS] | None = field(
        default=None, metadata={"help": "also write model.int8.onnx (implies --onnx)"}
    )


def build_parser() -> CommandParser:
    return CommandParser(
        ExportOptions,
        prog="ser-export",
        description="Export a trained classifier into a clean, verified model folder.",
    )


def parse_options(argv: list[str] | None = None) -> tuple[ExportOptions, bool]:
    """(the options, --debug); SOURCE and DEST, or --check DEST alone."""
    parser = build_parser()
    options, debug = parser.parse_command(argv)
    if options.check:
        if options.source:
            parser.error("--check takes one folder and no SOURCE")
    elif not (options.source and options.dest):
        parser.error("give SOURCE and DEST (or --check DEST)")
    return options, debug
