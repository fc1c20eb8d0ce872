"""The English emotion names every corpus maps its codes to, and the spellings accepted for them
in folders and manifests (`anger`, `happiness`, ...)."""

from __future__ import annotations

# RAVDESS's eight names plus EmoDB's boredom; a corpus's ClassLabel keeps this order.
SHARED_EMOTIONS = (
    "angry",
    "disgust",
    "fearful",
    "happy",
    "neutral",
    "sad",
    "surprised",
    "calm",
    "boredom",
)
ALIASES = {
    "anger": "angry",
    "disgusted": "disgust",
    "fear": "fearful",
    "happiness": "happy",
    "joy": "happy",
    "sadness": "sad",
    "surprise": "surprised",
    "pleasant_surprise": "surprised",
    "pleasant_surprised": "surprised",
    "ps": "surprised",
    "bored": "boredom",
}


def shared_name(text: str) -> str | None:
    """The shared name for a spelling (case and spaces ignored), or None when it is not one."""
    key = text.strip().lower().replace(" ", "_").replace("-", "_")
    if key in SHARED_EMOTIONS:
        return key
    return ALIASES.get(key)


def in_shared_order(names) -> tuple[str, ...]:
    """`names` ordered as SHARED_EMOTIONS, then any others alphabetically (a manifest's own)."""
    names = set(names)
    known = [name for name in SHARED_EMOTIONS if name in names]
    return (*known, *sorted(names - set(SHARED_EMOTIONS)))
