"""One-line errors for the command-line tools: the reason, no traceback unless --debug."""

from __future__ import annotations

import logging
import pickle
import sys
import traceback
import zipfile

DEBUG_FLAG = "--debug"
# Exceptions that describe bad input or a broken environment; anything else is a bug and keeps
# its traceback.
USER_ERRORS = (ValueError, OSError, zipfile.BadZipFile, pickle.UnpicklingError)


def pop_debug_flag(argv: list[str] | None) -> tuple[bool, list[str]]:
    """(whether a bare --debug was given, the other arguments).

    `--debug VALUE` (TrainingArguments' own debug option) is left in place."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    rest, debug = [], False
    for index, argument in enumerate(arguments):
        following = arguments[index + 1] if index + 1 < len(arguments) else "--"
        if argument == DEBUG_FLAG and following.startswith("-"):
            debug = True
        else:
            rest.append(argument)
    return debug, rest


def fail(error: BaseException, debug: bool, exit_code: int = 1) -> None:
    """Print `error: <message>` (and the traceback with --debug), then exit."""
    if debug:
        traceback.print_exception(error)
    message = str(error).strip() or type(error).__name__
    print(f"error: {message}", file=sys.stderr)
    if not debug:
        print(f"(run again with {DEBUG_FLAG} for the traceback)", file=sys.stderr)
    logging.shutdown()
    sys.exit(exit_code)
