"""The robustness report's text and picture: one row per evaluation condition (accuracy, UAR,
macro-F1 on the shared classes, each with its speaker-clustered 95 % interval), the PNG of
accuracy against condition, and the model card's `## Robustness` section, kept between markers
so a new evaluation replaces the old one."""

from __future__ import annotations

import re
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from data_scripts.common.atomic_write import atomic_output, write_text_atomic
from training.reports.card_text import table
from training.reports.corpus_card import interval_note, with_interval

ROBUSTNESS_DIR = "robustness"
ROBUSTNESS_PNG = "accuracy_by_condition.png"
_BEGIN, _END = "<!-- robustness: begin -->", "<!-- robustness: end -->"
_SECTION = re.compile(re.escape(_BEGIN) + r".*?" + re.escape(_END) + r"\n?", re.DOTALL)


def robustness_table(report: dict) -> str:
    """One row per condition, in the order evaluated; percentages of the shared classes."""
    rows = []
    for condition in report["conditions"]:
        scores = condition["shared_classes"]
        rows.append(
            [
                f"`{condition['condition']}`",
                condition.get("source") or "",
                str(condition["scored_files"]),
                *(with_interval(scores, name) for name in ("accuracy", "uar", "macro_f1")),
            ]
        )
    header = ["condition", "noise, room or coder", "files"]
    header += ["accuracy (%)", "UAR (%)", "macro-F1 (%)"]
    return table(header, rows)


def robustness_markdown(report: dict, heading: str = "#") -> str:
    """The report's README: what was corrupted and how, the table, the picture."""
    corpus, folder = report["corpus"], report["folder"]
    first = report["conditions"][0]["shared_classes"].get("intervals")
    return "\n".join(
        [
            f"{heading} Robustness on {corpus}",
            "",
            f"{report['files_note']} Each condition corrupts every clip deterministically "
            f"(seed {report['seed']}, the condition and the file's name). Per-file tables: "
            f"`{folder}/<condition>/test_predictions.csv`; the numbers below recompute from "
            "them. " + (interval_note(first) if first else ""),
            "",
            robustness_table(report),
            "",
            f"![Accuracy by condition]({folder}/{ROBUSTNESS_PNG})"
            if heading == "##"
            else f"![Accuracy by condition]({ROBUSTNESS_PNG})",
        ]
    )


def plot_accuracy_by_condition(report: dict, path: str | Path) -> Path:
    """Accuracy and UAR (shared classes) per condition, as bars, in the order evaluated."""
    names = [c["condition"] for c in report["conditions"]]
    accuracy = [100 * c["shared_classes"]["accuracy"] for c in report["conditions"]]
    uar = [100 * c["shared_classes"]["uar"] for c in report["conditions"]]
    figure = Figure(figsize=(1.5 + 0.9 * len(names), 4))
    axes = figure.add_subplot()
    positions = range(len(names))
    axes.bar([p - 0.2 for p in positions], accuracy, width=0.4, label="accuracy")
    axes.bar([p + 0.2 for p in positions], uar, width=0.4, label="UAR")
    axes.set_xticks(list(positions), names, rotation=30, ha="right")
    axes.set_ylim(0, 100)
    axes.set_ylabel("% (shared classes)")
    axes.set_title(f"{report['corpus']}: accuracy by condition")
    axes.legend(loc="lower left")
    figure.tight_layout()
    FigureCanvasAgg(figure)
    with atomic_output(path) as temporary:
        figure.savefig(temporary, format="png", dpi=110)
    return Path(path)


def update_card(card: Path, reports: list[dict]) -> Path | None:
    """Put the `## Robustness` section into the card (replacing an earlier one); None when the
    folder has no card."""
    if not card.is_file():
        return None
    text = _SECTION.sub("", card.read_text())
    section = "\n\n".join(robustness_markdown(report, heading="##") for report in reports)
    return write_text_atomic(card, f"{text.rstrip()}\n\n{_BEGIN}\n{section}\n{_END}\n")
