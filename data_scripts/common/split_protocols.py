"""The built-in split protocols' names, in a module without `datasets`: the training command's
options name them (and answer --help) before any corpus is loaded (data_scripts.common.splits)."""

from __future__ import annotations

PROTOCOLS = ("speaker", "kfold", "loso", "random")
