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

import argparse
import sys
from pathlib import Path

from data_scripts.common.arrow_cache import run_prepare
from data_scripts.common.cli_errors import pop_debug_flag
from data_scripts.common.dataset_folder import check_dataset_output, save_dataset
from data_scripts.corpora.builder import build_corpus
from data_scripts.corpora.corpus_record import CORPUS_FILE, corpus_record, record_text
from data_scripts.corpora.ravdess_corpus import CONFIG_CHANNELS
from data_scripts.corpora.registry import CORPUS_CHOICES, scan_corpus


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Build a 16 kHz Arrow dataset from RAVDESS, CREMA-D, TESS, SAVEE, EmoDB, "
        "label folders or a CSV manifest, and save it with save_to_disk."
    )
    parser.add_argument("--corpus", default="ravdess", choices=CORPUS_CHOICES)
    parser.add_argument("--data_dir", help="the corpus's folder (RAVDESS: the download folder)")
    parser.add_argument("--archive_dir", help="RAVDESS only: the folder with its two zips")
    parser.add_argument("--manifest", help="--corpus manifest: the CSV (path, label, ...)")
    parser.add_argument(
        "--speaker_pattern", help="--corpus folder: a regex whose group is the file's speaker"
    )
    parser.add_argument(
        "--labels",
        default="",
        help="comma-separated labels of your own to accept besides the emotion names",
    )
    parser.add_argument(
        "--allow_outside",
        action="store_true",
        help="--corpus manifest: accept paths outside the CSV's folder",
    )
    parser.add_argument("--output_dir", required=True, help="where save_to_disk writes the rows")
    parser.add_argument("--config", default="all", choices=sorted(CONFIG_CHANNELS))
    parser.add_argument("--cache_dir", default=None, help="datasets cache (default: HF's)")
    parser.add_argument("--num_proc", type=int, default=None, help="worker processes (all cores)")
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error")
    return parser


def check_combination(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
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
    if args.speaker_pattern and args.corpus != "folder":
        parser.error("--speaker_pattern is for --corpus folder")


def prepare(args: argparse.Namespace):
    """Build (or reuse) the cache of the chosen corpus and save it into --output_dir."""
    inputs = tuple(
        str(Path(x).parent if x == args.manifest else x)
        for x in (args.data_dir, args.archive_dir, args.manifest)
        if x
    )
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
    )
    dataset = build_corpus(scan, args.cache_dir, args.num_proc)
    beside = {CORPUS_FILE: record_text(corpus_record(scan))}
    save_dataset(dataset, Path(args.output_dir), inputs, beside)
    return dataset


def main(argv: list[str] | None = None) -> int:
    """0 once the dataset is saved (a console script exits with what main returns)."""
    debug, argv = pop_debug_flag(argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    check_combination(parser, args)
    run_prepare(lambda: prepare(args), args.output_dir, debug)
    return 0


if __name__ == "__main__":
    sys.exit(main())
