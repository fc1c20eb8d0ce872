"""The prepare command (`ser-prepare`): any corpus kind into one saved dataset shape.

    ser-prepare --corpus crema_d --data_dir CREMA-D/AudioWAV --output_dir data/crema_d
    ser-prepare --corpus folder --data_dir my_audio --speaker_pattern '^(\\w+?)_' --output_dir d
    ser-prepare --corpus manifest --manifest clips.csv --output_dir data/mine
    ser-prepare --data_dir data --output_dir data/prepared   # RAVDESS (data_scripts.ravdess)

Every kind, RAVDESS (the default) included, is scanned (data_scripts.corpora.registry), built by
the one builder (data_scripts.corpora.builder) and saved with its corpus.json beside the Arrow
files (data_scripts.corpora.corpus_record). `ravdess-prepare` and `python -m data_scripts.ravdess`
are this command.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from data_scripts.common.arrow_cache import run_prepare
from data_scripts.common.command_logging import setup_logging
from data_scripts.common.command_options import CommandParser
from data_scripts.common.dataset_folder import check_dataset_output, save_dataset
from data_scripts.corpora.builder import build_corpus
from data_scripts.corpora.corpus_record import CORPUS_FILE, corpus_record, record_text
from data_scripts.corpora.ravdess_corpus import CONFIG_CHANNELS
from data_scripts.corpora.registry import CORPUS_CHOICES, scan_corpus
from data_scripts.corpora.targets import parse_target_columns

CONFIG_CHOICES = tuple(sorted(CONFIG_CHANNELS))


@dataclass
class PrepareOptions:
    """ser-prepare's options (flags, or keys of an `--options` file)."""

    corpus: Literal[CORPUS_CHOICES] = field(default="ravdess", metadata={"help": "corpus kind"})
    data_dir: str | None = field(
        default=None, metadata={"help": "the corpus's folder (RAVDESS: the download folder)"}
    )
    archive_dir: str | None = field(
        default=None, metadata={"help": "RAVDESS only: the folder with its two zips"}
    )
    manifest: str | None = field(
        default=None, metadata={"help": "--corpus manifest: the CSV (path, label, ...)"}
    )
    speaker_pattern: str | None = field(
        default=None,
        metadata={"help": "--corpus folder: a regex whose group is the file's speaker"},
    )
    labels: str = field(
        default="",
        metadata={"help": "comma-separated labels of your own to accept besides the emotion names"},
    )
    allow_outside: bool = field(
        default=False, metadata={"help": "--corpus manifest: accept paths outside the CSV's folder"}
    )
    output_dir: str | None = field(
        default=None, metadata={"required": True, "help": "where save_to_disk writes the rows"}
    )
    config: Literal[CONFIG_CHOICES] = field(
        default="all", metadata={"help": "RAVDESS: which vocal channel's recordings"}
    )
    cache_dir: str | None = field(default=None, metadata={"help": "datasets cache (default: HF's)"})
    num_proc: int | None = field(
        default=None, metadata={"help": "worker processes (default: all cores)"}
    )
    target_columns: str = field(
        default="",
        metadata={
            "help": "--corpus manifest or folder: comma-separated columns of continuous targets "
            "(e.g. arousal,valence,dominance; any names, any range); the label becomes optional"
        },
    )
    targets_file: str | None = field(
        default=None,
        metadata={
            "help": "--corpus folder with --target_columns: a CSV of path (relative to "
            "--data_dir) and the target columns"
        },
    )


def build_parser() -> CommandParser:
    return CommandParser(
        PrepareOptions,
        prog="ser-prepare",
        description="Build a 16 kHz Arrow dataset from RAVDESS, CREMA-D, TESS, SAVEE, EmoDB,\n"
        "label folders or a CSV manifest, and save it with save_to_disk.",
    )


def parse_options(argv: list[str] | None = None) -> tuple[PrepareOptions, bool]:
    """(the options, --debug), with the check of which flags go with which --corpus."""
    parser = build_parser()
    options, debug = parser.parse_command(argv)
    check_combination(parser, options)
    return options, debug


def check_combination(parser: CommandParser, args: PrepareOptions) -> None:
    """The flags each corpus kind takes; a wrong combination is a usage error naming the flag."""
    if args.corpus == "ravdess":
        if bool(args.data_dir) == bool(args.archive_dir):
            parser.error("--corpus ravdess: give exactly one of --data_dir and --archive_dir")
    elif args.archive_dir:
        parser.error(f"--archive_dir is for RAVDESS only, not --corpus {args.corpus}")
    if args.corpus == "manifest":
        if not args.manifest or args.data_dir:
            parser.error("--corpus manifest: give --manifest FILE.csv (and no --data_dir)")
    elif args.manifest:
        parser.error(f"--manifest needs --corpus manifest, not --corpus {args.corpus}")
    elif args.corpus != "ravdess" and not args.data_dir:
        parser.error(f"--corpus {args.corpus}: give --data_dir")
    if args.targets_file and args.corpus != "folder":
        parser.error("--targets_file is for --corpus folder (a manifest holds its own targets)")
    if args.speaker_pattern and args.corpus != "folder":
        parser.error("--speaker_pattern is for --corpus folder")


def prepare(args: PrepareOptions):
    """Build (or reuse) the cache of the chosen corpus and save it into --output_dir."""
    inputs = tuple(
        str(Path(x).parent if x == args.manifest else x)
        for x in (args.data_dir, args.archive_dir, args.manifest)
        if x
    )
    targets = parse_target_columns(args.target_columns)
    check_dataset_output(args.output_dir, inputs)  # before any work
    labels = tuple(label.strip() for label in args.labels.split(",") if label.strip())
    scan = scan_corpus(
        args.corpus,
        args.data_dir,
        args.manifest,
        args.speaker_pattern,
        labels,
        args.allow_outside,
        args.archive_dir,
        args.config,
        targets,
        args.targets_file,
    )
    dataset = build_corpus(scan, args.cache_dir, args.num_proc)
    beside = {CORPUS_FILE: record_text(corpus_record(scan))}
    save_dataset(dataset, Path(args.output_dir), inputs, beside)
    return dataset


def main(argv: list[str] | None = None) -> int:
    """0 once the dataset is saved (a console script exits with what main returns)."""
    args, debug = parse_options(argv)
    setup_logging(debug)
    run_prepare(lambda: prepare(args), args.output_dir, debug)
    return 0


if __name__ == "__main__":
    sys.exit(main())
