"""RAVDESS, one corpus folder: its facts, archives, label map, Arrow builder, splits, commands."""
