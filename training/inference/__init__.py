"""Using a saved classifier: EmotionClassifier, predict, export, their inputs and outputs."""

from __future__ import annotations

__all__ = ["EmotionClassifier"]


def __getattr__(name: str):
    # Loaded on first use: `import training.inference.export_check` stays free of torch.
    if name == "EmotionClassifier":
        from training.inference.classifier import EmotionClassifier

        return EmotionClassifier
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
