"""The one logging setup every command calls once: the same line format everywhere, `--debug`
for our debug messages, and the libraries' chatter kept at warnings in every command alike."""

from __future__ import annotations

import logging

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Libraries whose info messages (HTTP connections, cache hits, file locks, plugin loading) say
# nothing a user of these commands acts on; their warnings and errors still show.
QUIET_LIBRARIES = (
    "transformers", "datasets", "huggingface_hub", "urllib3", "filelock", "fsspec",
    "matplotlib", "PIL", "httpx", "asyncio", "multipart", "numba",
)  # fmt: skip


def setup_logging(debug: bool = False, level: int = logging.INFO) -> None:
    """Log lines to standard error as `time LEVEL module: message`: `level` and up, everything
    of ours with `debug`. Called once by each command's main before its work starts."""
    # Like basicConfig everywhere: a program that set up logging itself (or pytest) keeps its own.
    logging.basicConfig(format=LOG_FORMAT, level=logging.DEBUG if debug else level)
    for name in QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(logging.WARNING)
