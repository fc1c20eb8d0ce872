"""What the model was trained on, for choosing prediction windows: training records the random
crop length (`max_train_seconds`) and the median training clip length in the feature extractor,
which save_pretrained writes into preprocessor_config.json (an extra key transformers keeps and
ignores); predict reads them back to choose windows the length of what the model saw."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

WINDOW_FACTS_KEY = "training_clip_seconds"
# Without recorded facts: the windows predict always used.
FALLBACK_WINDOW_SECONDS, FALLBACK_HOP_SECONDS = 8.0, 4.0
# Windows follow each other without overlap: each moment is scored once, like the training
# clips. Half-window hops cost twice the compute for a finer timeline, and on a 2-core CPU no
# float32 forward can then reach 20x real time (BENCHMARKS.md, long recordings); --hop_seconds
# asks for them.
HOP_FRACTION = 1.0


@dataclass(frozen=True)
class Windows:
    window_seconds: float
    hop_seconds: float
    source: str  # where the lengths came from, printed by predict


def record_window_facts(feature_extractor, max_train_seconds, clip_samples) -> None:
    """Store the crop length and the median training clip length (seconds) in the extractor."""
    rate = feature_extractor.sampling_rate
    lengths = np.asarray(clip_samples, dtype=np.float64)
    median = float(np.median(lengths)) / rate
    facts = {"max_train_seconds": max_train_seconds, "median_seconds": round(median, 3)}
    # Without a crop the model saw whole clips up to the longest one: predict scores clips up
    # to that length whole (trained_clip_seconds).
    facts["longest_seconds"] = round(float(lengths.max()) / rate, 3) if len(lengths) else None
    setattr(feature_extractor, WINDOW_FACTS_KEY, facts)


def _recorded_facts(model_dir: str | Path) -> dict | None:
    config_path = Path(model_dir) / "preprocessor_config.json"
    if not config_path.is_file():
        return None
    return json.loads(config_path.read_text()).get(WINDOW_FACTS_KEY)


def trained_clip_seconds(model_dir: str | Path) -> float | None:
    """The longest clip the model was trained on whole: the training crop (max_train_seconds),
    or without a crop the longest training clip; None when the model does not record them.
    Evaluation scores every test clip whole, so predict scores clips up to this length whole
    too and gives each the answer test_predictions.csv holds."""
    facts = _recorded_facts(model_dir) or {}
    seconds = facts.get("max_train_seconds") or facts.get("longest_seconds")
    return float(seconds) if seconds else None


def default_windows(model_dir: str | Path) -> Windows:
    """Window = the median training clip, no longer than the training crop; hop = the window.
    A model directory that records neither keeps the old 8 s / 4 s windows, with a warning."""
    facts = _recorded_facts(model_dir)
    if not facts or not facts.get("median_seconds"):
        logger.warning(
            "%s does not record the training clips' length (trained before windows were "
            "recorded): using %.1f s windows every %.1f s; set --window_seconds/--hop_seconds",
            model_dir,
            FALLBACK_WINDOW_SECONDS,
            FALLBACK_HOP_SECONDS,
        )
        return Windows(FALLBACK_WINDOW_SECONDS, FALLBACK_HOP_SECONDS, "predict's defaults")
    window = float(facts["median_seconds"])
    crop = facts.get("max_train_seconds")
    source = f"the median training clip ({window:.2f} s)"
    if crop and crop < window:
        window, source = float(crop), f"the training crop (max_train_seconds {crop:g})"
    return Windows(round(window, 3), round(window * HOP_FRACTION, 3), source)
