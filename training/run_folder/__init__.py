"""Claiming, locking and describing a run's output folder."""
