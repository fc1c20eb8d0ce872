"""Keeps `python data_scripts/download_and_map_emotion_data.py` (and `-m`) working: the command
is data_scripts.corpora.ravdess.download."""

import sys
from pathlib import Path

if __package__ in (None, ""):
    # Run as a file (the original's way), Python puts data_scripts/ itself on sys.path;
    # the repository root is needed for `data_scripts` to import as a package.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from data_scripts.corpora.ravdess.download import main  # noqa: E402

if __name__ == "__main__":
    main()
