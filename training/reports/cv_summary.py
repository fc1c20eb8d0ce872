"""Cross-validation over speaker folds: mean and std of the folds' test metrics, and its card.

`folds` is what `run_cross_validation` stores in cv_results.json: one entry per fold,
{"fold": k, "test_speakers": [...], "test_accuracy": ..., "test_recall_<emotion>": ..., ...}.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from data_scripts.common.atomic_write import write_text_atomic
from training.reports import corpus_card
from training.reports.card_text import (
    HEADLINE_METRICS,
    front_matter,
    is_number,
    percent,
    table,
)
from training.reports.model_card import MODEL_CARD_NAME

RECALL_PREFIX = "recall_"


def summarize_folds(folds: list[dict]) -> dict[str, dict[str, float]]:
    """{metric: {"mean", "std"}} for accuracy, UAR, macro-F1 and each class's recall, over the
    folds that report it (a class absent from a fold's test actors has no recall there).
    std is the population standard deviation (ddof=0, as numpy's default)."""
    recalls = dict.fromkeys(
        key.removeprefix("test_")
        for fold in folds
        for key in fold
        if key.startswith(f"test_{RECALL_PREFIX}")
    )
    summary = {}
    for name in (*HEADLINE_METRICS, *recalls):
        values = [fold[f"test_{name}"] for fold in folds if is_number(fold.get(f"test_{name}"))]
        if values:
            summary[name] = {"mean": float(np.mean(values)), "std": float(np.std(values))}
    return summary


def _mean_std(entry: dict) -> str:
    return f"{percent(entry['mean'])} ± {percent(entry['std'])}"


def cv_summary_markdown(folds: list[dict], summary: dict, speakers: str = "speakers") -> str:
    """A Markdown table with one row per fold and a final mean ± std row (values in percent),
    then the per-class recall over folds; `speakers` names the test column's people."""
    names = [name for name in HEADLINE_METRICS if name in summary]
    labels = [HEADLINE_METRICS[name].split(" (")[0] + " (%)" for name in names]
    rows = [
        [
            str(fold["fold"]),
            ", ".join(str(a) for a in sorted(fold.get("test_speakers") or [])),
            str(fold.get("test_samples", "")),
        ]
        + [percent(fold.get(f"test_{name}")) for name in names]
        for fold in folds
    ]
    rows.append(["**mean ± std**", "", ""] + [_mean_std(summary[name]) for name in names])
    lines = [table(["fold", f"test {speakers}", "test clips", *labels], rows)]
    recall_rows = [
        [name.removeprefix(RECALL_PREFIX), _mean_std(value)]
        for name, value in summary.items()
        if name.startswith(RECALL_PREFIX)
    ]
    if recall_rows:
        lines += [
            "",
            "Per-class test recall over folds:",
            "",
            table(["emotion", "recall (%), mean ± std"], recall_rows),
        ]
    return "\n".join(lines) + "\n"


def pooled_intervals_markdown(pooled: dict | None) -> str:
    """The interval to quote: every fold's test files pooled, resampling speakers."""
    if not pooled:
        return ""
    rows = [
        [
            HEADLINE_METRICS.get(name, "Recall: " + name.removeprefix(RECALL_PREFIX)),
            f"{percent(entry['value'])} [{percent(entry['low'])}, {percent(entry['high'])}]",
        ]
        for name, entry in pooled["metrics"].items()
    ]
    who = f"{pooled['speakers']} speakers" if pooled.get("speakers") else "files (no speakers)"
    lines = [
        f"Pooled over the {pooled['folds']} folds' test files ({pooled['files']} files, {who}): "
        f"95 % intervals from {pooled['resamples']} bootstrap resamples of {pooled['unit']}s, "
        f"seed {pooled['seed']}. Each file is scored by the fold model that never heard its "
        "speaker; these are the intervals to quote.",
        "",
        table(["metric", "pooled (%) [95 % interval]"], rows),
    ]
    if pooled.get("note"):
        lines += ["", f"Note: {pooled['note']}."]
    return "\n".join(lines)


def protocol_markdown(results: dict) -> str:
    """The cross-validation over a corpus protocol's folds under its metric names (EmoBox's UA,
    WA, macro-F1), and whether the numbers can stand beside its published table."""
    rows = [
        [f"{name} ({ours})", f"{entry['mean']:.2f} ± {entry['std']:.2f}"]
        for (name, entry), ours in zip(
            results["metrics_percent"].items(), results["names"].values(), strict=True
        )
    ]
    verdict = results["comparable_note"] if results["comparable"] else f"{results['note']}."
    return "\n".join(
        [
            f"{results['title']} names (%, mean ± std over folds). {verdict}",
            "",
            table(["metric", "value"], rows),
        ]
    )


def write_cv_summary_card(
    output_dir: str | Path,
    folds: list[dict],
    summary: dict,
    emobox: dict | None = None,
    corpora: list[dict] | None = None,
    pooled: dict | None = None,
) -> Path:
    """Write one README.md summarising a speaker-independent cross-validation (with a corpus
    protocol's names, e.g. EmoBox's, when `emobox`, that protocol's entry of cv_results.json, is
    given). `corpora`: the facts of each corpus trained on (corpus.json); the title, limits and
    license sections follow them."""
    title = f"{emobox['title']} folds" if emobox else f"{len(folds)} folds"
    corpora = [f for f in corpora or [] if f] or [corpus_card.corpus_of({})]
    corpus, speakers = " + ".join(f.get("title", "a corpus") for f in corpora), "speakers"
    fields = corpus_card.front_matter_fields(corpora[0])
    metadata = {**fields, "license": fields["license"] if len(corpora) == 1 else "other"}
    if len(corpora) > 1:
        metadata["datasets"] = [f.get("name", "dataset") for f in corpora]
    limits = (
        corpus_card.limits_section(corpora[0])
        if len(corpora) == 1
        else corpus_card.limits_section({"title": corpus})
    )
    licenses = [corpus_card.license_section(f) for f in corpora]
    # One heading, then each corpus's paragraphs.
    terms = "\n\n".join([licenses[0], *(t.split("\n", 2)[2] for t in licenses[1:])])
    text = "\n\n".join(
        [
            front_matter(metadata).removesuffix("\n"),
            f"# Cross-validation on {corpus} ({title})",
            f"Speaker-independent cross-validation: each fold's test {speakers} were never "
            "seen in its training or validation data. Each fold's model is in `fold_<k>/` with "
            "its own model card. Values in percent; std is the population standard deviation "
            "over folds (ddof=0).",
            *([protocol_markdown(emobox)] if emobox else []),
            cv_summary_markdown(folds, summary, speakers).strip("\n"),
            *([pooled_intervals_markdown(pooled)] if pooled else []),
            limits,
            terms,
        ]
    )
    return write_text_atomic(Path(output_dir) / MODEL_CARD_NAME, text + "\n")
