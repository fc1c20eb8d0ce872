"""Data: download, map, decode, cache and split RAVDESS (imports nothing of `training`)."""
