"""What the model card and the cross-validation card share: number and table formatting, the
front matter's metadata, and the limits and license sections."""

from __future__ import annotations

import numpy as np
from huggingface_hub import EvalResult, ModelCardData

DATA_LICENSE = "cc-by-nc-sa-4.0"
HEADLINE_METRICS = {
    "accuracy": "Accuracy",
    "uar": "UAR (unweighted average recall)",
    "macro_f1": "Macro-F1",
}
CITATION = (
    "Livingstone SR, Russo FA (2018). The Ryerson Audio-Visual Database of Emotional Speech "
    "and Song (RAVDESS): A dynamic, multimodal set of facial and vocal expressions in North "
    "American English. PLoS ONE 13(5): e0196391. doi:10.1371/journal.pone.0196391"
)
BIBTEX = """@article{livingstone2018ravdess,
  title={The Ryerson Audio-Visual Database of Emotional Speech and Song (RAVDESS): A dynamic,
         multimodal set of facial and vocal expressions in North American English},
  author={Livingstone, Steven R. and Russo, Frank A.},
  journal={PLoS ONE}, volume={13}, number={5}, pages={e0196391}, year={2018},
  doi={10.1371/journal.pone.0196391}
}"""
# Front matter shared by the model card and the cross-validation card.
CARD_METADATA = {
    "tags": ["audio-classification", "speech-emotion-recognition", "ravdess"],
    "datasets": ["ravdess"],
    "metrics": ["accuracy", "recall", "f1"],
}


def front_matter(
    metadata: dict, model_name: str | None = None, eval_results: list[EvalResult] | None = None
) -> str:
    """The card's YAML front matter, written by huggingface_hub's `ModelCardData` so the Hub
    (and `ModelCard.load`) read its metadata and model-index as it does every other card's."""
    data = ModelCardData(model_name=model_name, eval_results=eval_results or None, **metadata)
    return "---\n" + data.to_yaml() + "\n---\n"


def is_number(value) -> bool:
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool)


def percent(value) -> str:
    return f"{100 * float(value):.1f}" if is_number(value) else ""


def scalar(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list | tuple):
        return " ".join(str(v) for v in value)
    return str(value)


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


LIMITS_SECTION = """## Intended use and limits

For research on speech emotion recognition and for comparing encoders. Not for decisions about
people: emotions here are acted, not felt.

- Acted emotion from 24 professional North American English actors reading two fixed
  sentences in a studio; expect much lower accuracy on spontaneous speech, other languages,
  accents, noisy or telephone audio, children or elderly voices.
- 24 speakers is a small population: numbers from a single speaker-independent split carry
  several points of uncertainty; cross-validation over actor folds gives a fairer estimate.
- Compare with care. Random file-level splits (the same actor in training and test) give
  82-89 % accuracy on published model cards and in the original study; speaker-independent
  evaluations report much less, e.g. 68.3 % accuracy and macro-F1 0.676 for wav2vec2-base-960h
  (8 classes), and UAR 68.7 % from an ASR-fine-tuned wav2vec2-base versus 84.3 % from the
  pretrained one with per-speaker normalisation (Pepino et al. 2021, 7 classes).
  Accuracy and UAR are different numbers; both are reported above."""


def license_section() -> str:
    return "\n".join(
        [
            "## License and citation",
            "",
            "The weights were trained on RAVDESS, which is licensed under Creative Commons "
            "Attribution-NonCommercial-ShareAlike 4.0 (CC BY-NC-SA 4.0): non-commercial use, "
            "with attribution, and derivatives shared under the same license. Commercial "
            "licences are sold separately by the dataset's authors.",
            "",
            f"Please cite: {CITATION}.",
            "",
            "```bibtex",
            BIBTEX,
            "```",
        ]
    )
