"""Scoring saved runs: held-out calibration and intervals, cross-corpus tests, run comparisons."""
