"""The model card's parts for continuous targets: a model-index entry per target and metric
(CCC, Pearson r, MAE on the test split), the results table with 95 % speaker-clustered
intervals, the scatter plots, and how to read the outputs (`function_to_apply="none"`)."""

from __future__ import annotations

from pathlib import Path

from huggingface_hub import EvalResult

from training.reports.card_text import is_number, model_index_entry, table
from training.reports.corpus_card import cross_corpus_markdown, interval_note

TARGET_METRICS = (("ccc", "CCC"), ("pearson", "Pearson r"), ("mae", "MAE"))


def target_eval_results(info: dict, facts: dict, split: str) -> list[EvalResult]:
    """One model-index result per target and metric, named after the target."""
    test = info.get("test_metrics") or {}
    results = []
    for target in (info.get("task") or {}).get("targets", []):
        for key, name in TARGET_METRICS:
            value = test.get(f"test_{key}_{target}")
            if is_number(value):
                label = f"{name} ({target})"
                results.append(
                    model_index_entry(facts, split, "Emotion dimensions", key, label, value)
                )
    return results


def _with_interval(value, interval: dict | None) -> str:
    if not is_number(value):
        return ""
    text = f"{float(value):.3f}"
    if interval and is_number(interval.get("low")):
        text += f" [{interval['low']:.3f}, {interval['high']:.3f}]"
    return text


def target_results_section(info: dict) -> str:
    """Per target: CCC, Pearson r and MAE on test (95 % interval) and validation."""
    task = info.get("task") or {}
    test = info.get("test_metrics") or {}
    evaluation = info.get("eval_metrics") or {}
    intervals = (test.get("test_intervals") or {}).get("metrics") or {}
    rows = []
    for target in task.get("targets", []):
        for key, name in TARGET_METRICS:
            metric = f"{key}_{target}"
            tested = _with_interval(test.get(f"test_{metric}"), intervals.get(metric))
            validated = _with_interval(evaluation.get(f"eval_{metric}"), None)
            rows.append([f"{name}: {target}", tested, validated])
    rows.append(
        ["mean CCC", _with_interval(test.get("test_ccc"), intervals.get("ccc")),
         _with_interval(evaluation.get("eval_ccc"), None)]
    )  # fmt: skip
    lines = ["## Results: continuous targets", ""]
    if is_number(test.get("test_samples")):
        lines += [
            f"Test set: {int(test['test_samples'])} clips. CCC is the concordance correlation "
            "(1 only when predictions equal the ratings), MAE is in the targets' own units; "
            "test intervals are 95 % speaker-clustered bootstrap intervals.",
            "",
        ]
    lines.append(table(["metric", "test [95 % interval]", "validation"], rows))
    if task.get("task") == "multitask":
        weights = task.get("loss_weights") or [1, 1]
        lines += [
            "",
            f"The best checkpoint was chosen by `combined` = ({weights[0]:g} x UAR + "
            f"{weights[1]:g} x mean CCC) / {weights[0] + weights[1]:g} on validation.",
        ]
    return "\n".join(lines)


def target_figures(output_dir: Path, info: dict) -> str:
    lines = []
    for target in (info.get("task") or {}).get("targets", []):
        name = f"scatter_{target}.png"
        if (Path(output_dir) / name).is_file():
            lines.append(f"![Predicted against true {target}]({name})")
    return "\n\n".join(lines)


def target_usage_section(model_path: str, sampling_rate: int, info: dict) -> str:
    task = info.get("task") or {}
    targets = ", ".join(task.get("targets", []))
    classes = (
        "\nThe first outputs are class logits (apply a softmax to them yourself); the targets "
        "follow them.\n"
        if task.get("task") == "multitask"
        else ""
    )
    return f"""## Usage

The model's outputs are {targets} in the training ratings' units (no softmax):

```python
from transformers import pipeline

dimensions = pipeline("audio-classification", model="{model_path}", function_to_apply="none")
print(dimensions("speech.wav", top_k=None))  # [{{"label": NAME, "score": VALUE}}, ...]
```
{classes}
The audio is read at {sampling_rate} Hz. docs/dimensions.md says how to read the outputs."""


def target_cross_corpus_markdown(results: list[dict]) -> str:
    """ser-evaluate's report for a model with targets: per corpus and target CCC, Pearson r and
    MAE with their 95 % speaker-clustered intervals; a multitask model's class head follows as a
    classifier's (corpus_card.cross_corpus_markdown)."""
    rows, notes, classes = [], [], []
    for result in results:
        intervals = result["intervals"]
        found = intervals.get("metrics") or {}
        for target in result["targets"]:
            rows.append(
                [result["corpus"], target, str(result["scored_files"])]
                + [_with_interval(result[f"{key}_{target}"], found.get(f"{key}_{target}"))
                   for key, _ in TARGET_METRICS]
            )  # fmt: skip
        rows.append([result["corpus"], "mean CCC", str(result["scored_files"]),
                     _with_interval(result["ccc"], found.get("ccc")), "", ""])  # fmt: skip
        notes.append(f"- {result['corpus']}: " + interval_note(intervals))
        if result.get("classes"):
            classes.append({"corpus": result["corpus"], **result["classes"]})
        elif "classes" in result:
            notes.append(f"- {result['corpus']}: no label the class head knows; classes unscored.")
    intro = (
        "The model's values on another corpus rated on the same targets, in the model's units "
        "(MAE too), each with its 95 % interval. Per-file table (`true_<target>`, "
        "`predicted_<target>`): `cross_corpus/<corpus>/test_predictions.csv`."
    )
    header = ["corpus", "target", "files", "CCC", "Pearson r", "MAE"]
    lines = ["## Cross-corpus evaluation: continuous targets", "", intro, ""]
    lines += [table(header, rows), "", *notes]
    if classes:
        lines += ["", cross_corpus_markdown(classes)]
    return "\n".join(lines)
