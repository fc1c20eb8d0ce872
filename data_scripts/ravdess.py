"""Keeps `python -m data_scripts.ravdess` working: the command is ser-prepare (corpora.prepare),
whose default corpus is RAVDESS."""

from data_scripts.corpora.prepare import main

if __name__ == "__main__":
    main()
