"""Keeps `python -m data_scripts.sample_archives` working: the command is in corpora.ravdess."""

from data_scripts.corpora.ravdess.sample_archives import main

if __name__ == "__main__":
    main()
