"""What the export compares, for every output layout: class probabilities and target values.

A classifier's checks are what they always were: top label identical, every probability within
export_check.TOLERANCE. A model with continuous targets (training.model.task_outputs) is
compared on its score rows (training.inference.output_scores): the class part as a classifier's
(a multitask model), each target value within the same TOLERANCE in the user's units. `pipeline`
applies no softmax to a regression or multitask model (its config says `problem_type:
regression`), so a multitask model's class part is put through one here, as docs tell users to.

int8 cannot hold the float model's values exactly and is not held to TOLERANCE; its card and
manifest report, per layout: label agreement with the float ONNX file (classes), and for each
target the largest absolute difference from it and that difference as a share of the target's
range (the training corpus's range that the config records, else the spread of the float
answers on the checked clips).
"""

from __future__ import annotations

import csv
import logging
from pathlib import Path

import numpy as np

from training.inference import onnx_export
from training.inference.classifier import EmotionClassifier
from training.inference.export_check import compare
from training.model.task_outputs import OutputLayout
from training.model.trained_classifier import load_trained_classifier

logger = logging.getLogger(__name__)

# The per-file table's column of a target's predicted value (training.reports.per_file_results).
PREDICTED_VALUE_COLUMN = "predicted_{target}"


def score_names(layout: OutputLayout) -> list[str]:
    """The score rows' column names: the classes, then the targets."""
    return [*layout.classes, *layout.targets]


def classes_checked(layout: OutputLayout) -> list[str] | None:
    """export_check.compare's `classes`: None for a classifier (as before), else the classes."""
    return None if not layout.has_targets else list(layout.classes)


def table_references(path: Path, layout: OutputLayout) -> dict[str, dict[str, float]] | None:
    """{file: {class or target: score}} from the run's per-file table (`prob_<class>` and
    PREDICTED_VALUE_COLUMN columns); None when the table lacks one of them."""
    columns = {c: f"prob_{c}" for c in layout.classes}
    columns.update({t: PREDICTED_VALUE_COLUMN.format(target=t) for t in layout.targets})
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        if not set(columns.values()) <= set(reader.fieldnames or ()):
            return None
        return {row["file"]: {k: float(row[c]) for k, c in columns.items()} for row in reader}


def pipeline_scores(answers: dict[str, dict[str, float]], layout: OutputLayout) -> dict:
    """`pipeline`'s answers as score rows: a multitask model's class logits through a softmax
    over the classes only; a classifier's and a regression model's answers as they are."""
    if not (layout.has_classes and layout.has_targets):
        return answers
    result = {}
    for name, raw in answers.items():
        logits = np.array([raw[c] for c in layout.classes], dtype=np.float64)
        probabilities = onnx_export.softmax(logits[None])[0]
        result[name] = {**raw, **dict(zip(layout.classes, map(float, probabilities), strict=True))}
    return result


def _int8_targets(quantized: dict, answers: dict, names: list, classifier) -> dict:
    """Per target: the largest |int8 - float| over the clips, and that as a share of the
    target's range (the recorded one, else the float answers' spread)."""
    result = {}
    for target in classifier.targets:
        floats = np.array([answers[n][target] for n in names])
        worst = max(abs(quantized[n][target] - answers[n][target]) for n in names)
        low, high = classifier.target_ranges.get(target, (floats.min(), floats.max()))
        source = "training corpus" if target in classifier.target_ranges else "checked clips"
        span = float(high - low)
        result[target] = {
            "max_abs_difference": float(worst),
            "range": [float(low), float(high)],
            "range_from": source,
            "max_relative_difference": float(worst / span) if span > 0 else None,
        }
    return result


def _only(answers: dict, keys: list[str]) -> dict:
    """Each clip's answer restricted to `keys` (the class probabilities)."""
    return {name: {k: scores[k] for k in keys} for name, scores in answers.items()}


def _checked_onnx(staging: Path, pytorch: EmotionClassifier, clips: list, names: list):
    """(path, answers, {"onnx": comparison}) from the first of onnx_export.EXPORTERS whose graph
    answers like `pytorch` on `clips`; ValueError with the last exporter's reason when none
    does."""
    columns = score_names(pytorch.layout)
    reference = onnx_export.as_answers(pytorch.scores(clips), names, columns)
    model = load_trained_classifier(staging).eval()
    path = staging / onnx_export.ONNX_FILE
    for exporter in onnx_export.EXPORTERS:
        try:
            onnx_export.export_onnx(model, path, pytorch.sampling_rate, exporter=exporter)
            onnx = EmotionClassifier.from_pretrained(staging, backend="onnxruntime", batch_size=1)
            answers = onnx_export.as_answers(onnx.scores(clips), names, columns)
            what = f"onnxruntime on {path.name}"
            comparison = compare(answers, reference, what, classes_checked(pytorch.layout))
            return path, answers, {"onnx": {**comparison, "exporter": exporter}}
        except Exception as error:  # noqa: BLE001 - the next exporter, or the error below
            failure = error
            path.unlink(missing_ok=True)
            logger.info("ONNX via the %s exporter not kept: %s", exporter, error)
    raise ValueError(f"{failure}; no ONNX file written") from failure


def onnx_forms(staging: Path, clips_arrays: list, names: list, quantize: str | None) -> dict:
    """model.onnx (and model.int8.onnx), each checked against PyTorch on the verified clips,
    all three scored by EmotionClassifier one clip at a time (the ONNX file takes no mask)."""
    pytorch = EmotionClassifier.from_pretrained(staging, device="cpu", batch_size=1)
    layout, columns = pytorch.layout, score_names(pytorch.layout)
    path, answers, result = _checked_onnx(staging, pytorch, clips_arrays, names)
    if quantize == "int8":
        int8 = onnx_export.quantize_int8(path, staging / onnx_export.INT8_FILE)
        quantized_model = EmotionClassifier.from_pretrained(
            staging, backend="onnxruntime", onnx_file=onnx_export.INT8_FILE, batch_size=1
        )
        quantized = onnx_export.as_answers(quantized_model.scores(clips_arrays), names, columns)
        labels = list(layout.classes)
        result["int8"] = {"clips": len(names)}
        if labels:
            result["int8"].update(
                label_agreement=onnx_export.label_agreement(
                    _only(quantized, labels), _only(answers, labels)
                ),
                max_abs_difference=max(abs(quantized[n][c] - answers[n][c]) for n in names
                                       for c in labels),
            )  # fmt: skip
        if layout.has_targets:
            result["int8"]["targets"] = _int8_targets(quantized, answers, names, pytorch)
        result["int8"].update(size=int8.stat().st_size, quantized_ops=list(onnx_export.INT8_OPS))
    return result
