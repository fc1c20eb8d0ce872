"""The RAVDESS prepare command (`python -m data_scripts.ravdess`; installed as `ser-prepare`).

    python -m data_scripts.ravdess --data_dir data --output_dir data/prepared

Builds (or reuses) the Arrow cache of data_scripts.corpora.ravdess.builder and saves it with
save_to_disk into --output_dir; `ser-prepare` (data_scripts.corpora.prepare) does the same for
RAVDESS and every other corpus kind.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import datasets

from data_scripts.common.arrow_cache import run_prepare
from data_scripts.common.cli_errors import pop_debug_flag
from data_scripts.common.dataset_folder import check_dataset_output, save_dataset
from data_scripts.corpora.ravdess.builder import CONFIG_CHANNELS, build_ravdess


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Build the RAVDESS Arrow cache (16 kHz mono) and save it with save_to_disk."
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--data_dir", help="folder with emotional_data_mappings.csv (extracted)")
    source.add_argument("--archive_dir", help="folder with the two RAVDESS zips (read in memory)")
    parser.add_argument("--output_dir", required=True, help="where save_to_disk writes the rows")
    parser.add_argument("--config", default="all", choices=sorted(CONFIG_CHANNELS))
    parser.add_argument("--cache_dir", default=None, help="datasets cache (default: HF's)")
    parser.add_argument("--num_proc", type=int, default=None, help="worker processes (all cores)")
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error")
    return parser


def prepare(args: argparse.Namespace) -> datasets.Dataset:
    """Build (or reuse) the RAVDESS cache and save it into --output_dir."""
    inputs = tuple(folder for folder in (args.data_dir, args.archive_dir) if folder)
    check_dataset_output(args.output_dir, inputs)  # before any work
    dataset = build_ravdess(
        args.data_dir, args.archive_dir, args.config, args.cache_dir, args.num_proc
    )
    save_dataset(dataset, Path(args.output_dir), inputs)
    return dataset


def main(argv: list[str] | None = None) -> int:
    """0 once the dataset is saved (a console script exits with what main returns)."""
    debug, argv = pop_debug_flag(argv)
    args = build_parser().parse_args(argv)
    run_prepare(lambda: prepare(args), args.output_dir, debug)
    return 0


if __name__ == "__main__":
    sys.exit(main())
