"""Keeps `python -m data_scripts.ravdess` working: the command is in corpora.ravdess.prepare."""

from data_scripts.corpora.ravdess.prepare import main

if __name__ == "__main__":
    main()
