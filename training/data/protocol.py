"""Which of a corpus's own protocols a run asks for. It lives with the data side because loading
and folding a corpus need it, and the data side must not import the command's arguments."""

from __future__ import annotations

from typing import TYPE_CHECKING

from data_scripts.common.split_protocols import PROTOCOLS

if TYPE_CHECKING:
    from training.arguments import DataArguments


def corpus_protocol(data_args: DataArguments) -> str | None:
    """The corpus's own protocol a run asks for (--split emobox or --cv_folds emobox), if any."""
    cv_folds = str(data_args.cv_folds).strip().lower()
    if data_args.cv_folds is not None and not cv_folds.isdigit() and cv_folds != "loso":
        return cv_folds
    return data_args.split if data_args.split not in PROTOCOLS else None


def uses_corpus_protocol(data_args: DataArguments) -> bool:
    return corpus_protocol(data_args) is not None


def resolve_protocol(data_args: DataArguments) -> str | None:
    """Check --cv_folds (made an int or "emobox") and --fold for --split emobox; returns the
    error message for bad values. (The vocal channel's default is set in __post_init__.)"""
    if data_args.cv_folds is not None:
        text = str(data_args.cv_folds).strip().lower()
        if text in ("emobox", "loso"):
            data_args.cv_folds = text
        elif text.isdigit() and int(text) >= 3:
            data_args.cv_folds = int(text)
        else:
            return (
                f"--cv_folds {data_args.cv_folds}: give a number of folds (3 or more), loso or "
                "emobox"
            )
    if data_args.split not in PROTOCOLS and data_args.cv_folds is None and data_args.fold is None:
        return (
            f"--split {data_args.split} needs --fold (one of its folds' numbers; EmoBox's are 1 to "
            f"6); --cv_folds {data_args.split} runs all of them"
        )
    return None
