"""The model card's text about the corpus: its front matter, data, split rows, limits and license
sections, all from the facts in the dataset's corpus.json (data_scripts.corpora), whichever
corpus it is."""

from __future__ import annotations

from data_scripts.corpora.registry import DOWNLOAD_FACTS
from training.reports.card_text import table

# Hub license identifiers of the corpora whose licence has one; others are "other".
HUB_LICENSES = {"ravdess": "cc-by-nc-sa-4.0", "crema_d": "odbl", "tess": "cc-by-nc-nd-4.0"}


def corpus_of(info: dict) -> dict:
    """The run's corpus facts (corpus.json's); a card written without any says what a run on
    the download folder's corpus would."""
    facts = info.get("dataset")
    return facts if isinstance(facts, dict) and facts else DOWNLOAD_FACTS.as_dict()


def front_matter_fields(facts: dict) -> dict:
    name = str(facts.get("name", "dataset"))
    return {
        "license": HUB_LICENSES.get(name, "other"),
        "tags": ["audio-classification", "speech-emotion-recognition", name],
        "datasets": [name],
        "metrics": ["accuracy", "recall", "f1"],
    }


def data_section(facts: dict) -> str:
    lines = ["## Data", "", facts.get("description") or facts.get("title", "")]
    if facts.get("homepage"):
        lines.append(f"Homepage: {facts['homepage']}.")
    lines.append(f"Classes come from the corpus: {', '.join(facts.get('label_names', []))}.")
    return "\n".join(line for line in lines if line is not None)


def speaker_rows(parts: dict, split_names) -> list[list[str]]:
    """One row per split: its speakers with their genders, and its files."""
    rows = []
    for name in split_names:
        if name in parts:
            speakers = parts[name].get("speakers") or []
            genders = ", ".join(
                f"{n} {g}" for g, n in sorted(parts[name].get("genders", {}).items())
            )
            listed = ", ".join(speakers[:12]) + (" ..." if len(speakers) > 12 else "")
            described = f"{listed} ({genders})" if speakers else "no speakers known"
            count = str(parts[name].get("count", ""))
            corpora = parts[name].get("corpora") or {}
            if len(corpora) > 1:  # each corpus's share
                count += " (" + ", ".join(f"{c} {n}" for c, n in corpora.items()) + ")"
            rows.append([name, described, count])
    return rows


def split_notes(split: dict) -> list[str]:
    """What the card must say plainly: a split that is not speaker-independent, a validation
    split that shares speakers with training."""
    notes = []
    if split.get("speaker_independent") is False:
        notes.append(f"**{split.get('note', 'NOT speaker-independent')}.**")
    if split.get("validation_note"):
        notes.append(f"Validation: {split['validation_note']}.")
    return notes


def split_table(parts: dict, split_names) -> str:
    return table(["split", "speakers", "files"], speaker_rows(parts, split_names))


def limits_section(facts: dict) -> str:
    if facts.get("limits"):
        return f"## Intended use and limits\n\n{facts['limits']}"
    return f"""## Intended use and limits

For research on speech emotion recognition. Not for decisions about people: the emotions in
{facts.get("title", "this corpus")} are acted or elicited, from a limited set of speakers;
expect lower accuracy on spontaneous speech, other languages, accents and recording conditions.
A corpus with few speakers gives numbers with several points of uncertainty."""


def license_section(facts: dict) -> str:
    terms = facts.get("terms") or (
        f"The weights were trained on {facts.get('title', 'the corpus')}, licensed as: "
        f"{facts.get('license', 'unknown')}. Check its terms before you use or share them."
    )
    lines = ["## License and citation", "", terms]
    if facts.get("citation"):
        lines += ["", f"Please cite: {facts['citation']}."]
    if facts.get("bibtex"):
        lines += ["", "```bibtex", facts["bibtex"], "```"]
    return "\n".join(lines)


def with_interval(scores: dict, name: str) -> str:
    """The value in percent, then its 95 % speaker-clustered interval where one was computed."""
    entry = (scores.get("intervals") or {}).get("metrics", {}).get(name)
    text = f"{100 * scores[name]:.1f}"
    return text + (f" [{100 * entry['low']:.1f}, {100 * entry['high']:.1f}]" if entry else "")


def interval_note(intervals: dict) -> str:
    who = f"{intervals['speakers']} speakers" if intervals["speakers"] else "files (no speakers)"
    return (
        f"95 % intervals from {intervals['resamples']} bootstrap resamples of {who}, "
        f"{intervals['files']} files, seed {intervals['seed']}."
    )


def cross_corpus_markdown(results: list[dict]) -> str:
    """The card section of cross-corpus evaluation: per corpus, UAR/accuracy/macro-F1 on the
    shared classes (other classes masked) and unrestricted, and the classes one side lacks."""
    rows, notes = [], []
    for result in results:
        for key, label in (("shared_classes", "shared classes"), ("unrestricted", "unrestricted")):
            scores = result[key]
            rows.append(
                [
                    result["corpus"],
                    label,
                    str(result["scored_files"]),
                    *(with_interval(scores, name) for name in ("accuracy", "uar", "macro_f1")),
                ]
            )
            if scores.get("intervals"):
                notes.append(
                    f"- {result['corpus']}, {label}: " + interval_note(scores["intervals"])
                )
        lacks = []
        if result["model_only_labels"]:
            lacks.append(f"the corpus lacks {', '.join(result['model_only_labels'])}")
        if result["corpus_only_labels"]:
            lacks.append(
                f"the model lacks {', '.join(result['corpus_only_labels'])} "
                f"({result['files_of_classes_the_model_lacks']} files, not scored)"
            )
        if lacks:
            notes.append(f"- {result['corpus']}: {'; '.join(lacks)}.")
    header = ["corpus", "classes", "files", "accuracy (%)", "UAR (%)", "macro-F1 (%)"]
    lines = [
        "## Cross-corpus evaluation",
        "",
        "The model on other corpora, labels matched by name. `shared classes`: the model's "
        "classes the corpus lacks are masked out; `unrestricted`: the model's plain answer, where "
        "a class the corpus lacks counts as an error. Per-file tables: "
        "`cross_corpus/<corpus>/test_predictions.csv`.",
        "",
        table(header, rows),
    ]
    if notes:
        lines += ["", *notes]
    return "\n".join(lines)
