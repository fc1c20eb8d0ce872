"""Abstention: an answer whose top probability is below the user's `--min_confidence P` is
labelled `uncertain` instead of guessing. The model's own answer and every probability are
kept beside it (`model_emotion`), so nothing is lost. With the temperature folded into the
saved model, P means what it says: of the files answered at confidence about P, about that
share are right (the card's risk-coverage table shows what each P keeps and gains)."""

from __future__ import annotations

UNCERTAIN = "uncertain"


def check_min_confidence(min_confidence: float | None) -> None:
    if min_confidence is not None and not 0.0 <= min_confidence <= 1.0:
        raise ValueError(f"--min_confidence {min_confidence}: give a probability from 0 to 1")


def _abstain(answer: dict, min_confidence: float) -> None:
    probability = answer.get("probability")
    if probability is not None and probability < min_confidence:
        answer["model_emotion"] = answer["emotion"]
        answer["emotion"] = UNCERTAIN


def apply_min_confidence(results: list[dict], min_confidence: float | None) -> list[dict]:
    """Label files and timeline windows below `min_confidence` `uncertain` (in place; the
    results are returned). Files without speech keep their `no speech`."""
    check_min_confidence(min_confidence)
    if min_confidence is None:
        return results
    for result in results:
        _abstain(result, min_confidence)
        result["min_confidence"] = min_confidence
        for window in (result.get("timeline") or {}).get("windows", []):
            _abstain(window, min_confidence)
    return results
