"""The card's statement of what its split guarantees (split.json's `leakage` entry, written by
training.data.leakage): disjoint speakers or not, text shared between splits, and copies of one
recording across or inside splits."""

from __future__ import annotations


def split_guarantees_section(split: dict) -> str:
    audit = (split or {}).get("leakage")
    if not audit:
        return ""
    lines = ["## What the split guarantees", ""]
    disjoint = audit.get("speakers_disjoint")
    if disjoint is True:
        lines.append("- Speakers: train, validation and test speakers are disjoint.")
    elif disjoint is False:
        lines.append(
            "- Speakers: NOT disjoint: some speakers are in more than one split, so the numbers "
            "do not measure new voices."
        )
    else:
        lines.append("- Speakers: unknown (the data names none), so nothing is guaranteed.")
    text = audit.get("shared_text")
    if text and text["in_every_split"]:
        ravdess = text["field"] == "statement"
        lines.append(
            f"- Text: {text['in_every_split']} `{text['field']}` values occur in every split"
            + (
                " (RAVDESS's two statements, by design: the model is tested on sentences it "
                "heard in training, spoken by other voices)."
                if ravdess
                else " (the same sentences in training and test)."
            )
        )
    across = audit.get("across_splits", 0)
    if across and audit.get("allowed_duplicates"):
        pairs = audit.get("across_split_pairs") or []
        named = "; ".join(f"{p['train']} = {p[p['split']]} ({p['split']})" for p in pairs[:5])
        lines.append(
            f"- Copies: the same audio is in training and validation or test for {across} "
            f"files, kept by `--allow_duplicates`: those numbers are inflated. {named}"
        )
    else:
        lines.append(
            "- Copies: no clip's audio (SHA-256 of its 16 kHz samples) is in training and in "
            "validation or test."
        )
    within = {k: v for k, v in (audit.get("within_split_duplicates") or {}).items() if v}
    if within:
        counts = ", ".join(f"{name} {count}" for name, count in within.items())
        lines.append(f"- Repeated audio inside one split (extra copies): {counts}.")
    else:
        lines.append("- No audio is repeated inside any split.")
    return "\n".join(lines)
