"""Corruptions of speech shared by training-time augmentation and the robustness evaluation."""
