"""The run's model card: `README.md` with YAML front matter, results, split, setup, license.

Every optional piece of information may be missing: the card then leaves it out.

`write_model_card(output_dir, info)` reads these keys of `info` (all optional):
    base_model      str: the checkpoint training started from (path or hub id).
    model_name      str: title of the card (default: the output folder's name).
    pooling         str: the classification head's pooling (e.g. "mean", "weighted_layers").
    vocal_channel   "speech" | "song" | "all".
    sampling_rate   int: model input rate (default: preprocessor_config.json, else 16 kHz).
    split           dict: what `split_summary` (data_scripts.common.splits) returns
                    (split.json):
                    protocol, seed, fold, num_folds, and split["splits"][name] = {"speakers":
                    [...], "genders": {...}, "count": n, ...} for name in train, validation, test.
    test_metrics    dict: test_accuracy, test_uar, test_macro_f1, test_loss, test_samples,
                    test_recall_<emotion>, and breakdowns test_<group>_{accuracy,uar,macro_f1,count}
                    for each breakdown value (test_confusion_matrix is not shown).
    eval_metrics    dict: eval_accuracy, eval_uar, eval_macro_f1 of the kept checkpoint.
    training        dict: hyperparameter name -> scalar value, shown as a table.
    dataset         dict: the corpus's facts from its corpus.json (name, title, label_names,
                    license, citation, protocols, ...): the card's title, data, limits and
                    license sections and front matter follow it (default: the download folder's
                    corpus).
    breakdown       dict: {column: values} the test metrics are broken down by.
    cross_corpus    list: training.evaluation.cross_corpus results, one per other corpus evaluated.
    run_info        dict: num_processes, device, n_gpu, precision, distributed_backend,
                    total_train_batch_size, finished_at, versions (dict), command (list or str).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from data_scripts.common.atomic_write import write_text_atomic
from data_scripts.common.audio_decoding import TARGET_SAMPLING_RATE
from data_scripts.common.splits import SPLIT_NAMES
from training.reports import corpus_card
from training.reports.card_text import (
    HEADLINE_METRICS,
    early_stopping_text,
    front_matter,
    is_number,
    model_index_entry,
    percent,
    scalar,
    table,
)
from training.reports.plots import CONFUSION_MATRIX_PNG, TRAINING_CURVES_PNG
from training.reports.split_guarantees import split_guarantees_section
from training.reports.target_card import (
    target_eval_results,
    target_figures,
    target_results_section,
    target_usage_section,
)
from training.reports.uncertainty_card import calibration_section, uncertainty_sections

MODEL_CARD_NAME = "README.md"
PROTOCOLS = {
    "speaker": "speaker-independent: train, validation and test speakers are disjoint",
    "kfold": "speaker-independent k-fold: each fold tests on speakers never seen in training",
    "loso": "leave one speaker out: the test speaker is never seen in training",
    "random": "file-level random split: the same speakers appear in training and test, so the "
    "numbers are NOT speaker-independent and overstate accuracy on new voices",
}
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


# --- sections ---------------------------------------------------------------------------------


def _front_matter(info: dict, model_type: str | None, title: str) -> str:
    facts = corpus_card.corpus_of(info)
    fields = corpus_card.front_matter_fields(facts)
    task = info.get("task") or {}
    if task.get("targets"):  # the metrics the card's model-index holds
        classes = fields["metrics"] if task.get("task") == "multitask" else []
        fields["metrics"] = classes + ["ccc", "pearson", "mae"]
    metadata: dict = {
        "license": fields["license"],
        "library_name": "transformers",
        "pipeline_tag": "audio-classification",
        **fields,
        "tags": fields["tags"] + ([model_type] if model_type else []),
    }
    base = info.get("base_model")
    if isinstance(base, str) and HUB_ID.match(base) and not Path(base).exists():
        metadata["base_model"] = base
    test = info.get("test_metrics") or {}
    split = (info.get("split") or {}).get("protocol", "test")
    results = [
        model_index_entry(facts, split, "Emotion recognition", metric_type, name, test[key])
        for key, metric_type, name in (
            ("test_accuracy", "accuracy", "Accuracy"),
            ("test_uar", "recall", "UAR (unweighted average recall)"),
            ("test_macro_f1", "f1", "Macro-F1"),
        )
        if is_number(test.get(key))
    ] + target_eval_results(info, facts, split)
    return front_matter(metadata, title if results else None, results)


def _model_section(info: dict, config: dict) -> str:
    lines = ["## Base checkpoint", ""]
    if info.get("base_model"):
        lines.append(f"- Started from: `{info['base_model']}`")
    if config.get("model_type"):
        layers = config.get("num_hidden_layers")
        size = f", {layers} transformer layers" if layers else ""
        lines.append(f"- Architecture: `{config['model_type']}`{size}")
    if info.get("pooling"):
        lines.append(f"- Classification head pooling: `{info['pooling']}`")
    labels = config.get("id2label")
    targets = config.get("ser_targets") or []
    if isinstance(labels, dict) and labels:
        names = [labels[k] for k in sorted(labels, key=int)]
        names = names[: len(names) - len(targets)]
        if names:
            lines.append(f"- Classes ({len(names)}): {', '.join(names)}")
    if targets:
        scaling = config.get("ser_target_ranges") or {}
        shown = [f"{t} (training range {scaling[t][0]:g} to {scaling[t][1]:g})"
                 if len(scaling.get(t) or []) == 2 else t for t in targets]  # fmt: skip
        lines.append(
            f"- Continuous targets ({len(targets)}), after the classes: {', '.join(shown)}"
        )
    return "\n".join(lines) if len(lines) > 2 else ""


def _data_section(info: dict) -> str:
    text = corpus_card.data_section(corpus_card.corpus_of(info))
    channel = info.get("vocal_channel")
    if channel and channel != "all":
        text += f"\nVocal channel used: **{channel}**."
    return text


def _split_section(split: dict, facts: dict) -> str:
    if not split:
        return ""
    protocol = split.get("protocol")
    own = (facts.get("protocols") or {}).get(protocol) or {}
    lines = ["## Split protocol", ""]
    if protocol:
        described = PROTOCOLS.get(protocol) or own.get("description", protocol)
        lines.append(f"Protocol: `{protocol}` ({described}).")
    details = [
        f"{key} {split[key]}" for key in ("seed", "fold", "num_folds") if split.get(key) is not None
    ]
    if details:
        lines.append(f"Settings: {', '.join(details)}.")
    lines += corpus_card.split_notes(split)
    parts = split.get("splits") or {}
    if parts:
        lines += ["", corpus_card.split_table(parts, SPLIT_NAMES)]
    check = split.get("protocol_check")
    if check:
        lines += ["", f"{own.get('title', protocol)}: {check['note']}. {check['validation']}"]
        names = own.get("metric_names") or {}
        if names:
            listed = ", ".join(f"{name} = {ours}" for name, ours in names.items())
            lines.append(f"{own.get('title', protocol)}'s metric names: {listed}.")
    return "\n".join(lines) if len(lines) > 2 else ""


def _metrics_section(test: dict, evaluation: dict, breakdown: dict | None = None) -> str:
    rows = []
    for key, label in HEADLINE_METRICS.items():
        if is_number(test.get(f"test_{key}")) or is_number(evaluation.get(f"eval_{key}")):
            rows.append(
                [label, percent(test.get(f"test_{key}")), percent(evaluation.get(f"eval_{key}"))]
            )
    recalls = [
        (key.removeprefix("test_recall_"), value)
        for key, value in test.items()
        if key.startswith("test_recall_") and is_number(value)
    ]
    rows += [[f"Recall: {name}", percent(value), ""] for name, value in recalls]
    if not rows:
        return ""
    lines = ["## Results", ""]
    if is_number(test.get("test_samples")):
        lines.append(f"Test set: {int(test['test_samples'])} clips. Values in percent.")
        lines.append("")
    lines.append(table(["metric", "test (%)", "validation (%)"], rows))
    if is_number(test.get("test_loss")):
        lines.append(f"\nTest loss: {float(test['test_loss']):.4f}.")
    columns = breakdown or {}
    groups = [value for values in columns.values() for value in values]
    breakdown = []
    for group in groups:
        values = [test.get(f"test_{group}_{key}") for key in HEADLINE_METRICS]
        if any(is_number(v) for v in values):
            count = test.get(f"test_{group}_count")
            breakdown.append(
                [group, str(count) if count is not None else ""] + [percent(v) for v in values]
            )
    if breakdown:
        header = ["test subset", "clips", "accuracy (%)", "UAR (%)", "macro-F1 (%)"]
        named = " and ".join(name.replace("_", " ") for name in columns)
        lines += ["", f"By {named}:", "", table(header, breakdown)]
    return "\n".join(lines)


def _figures_section(output_dir: Path) -> str:
    lines = [
        f"![{name}]({file_name})"
        for name, file_name in (
            ("Confusion matrix", CONFUSION_MATRIX_PNG),
            ("Training curves", TRAINING_CURVES_PNG),
        )
        if (output_dir / file_name).is_file()
    ]
    return "\n\n".join(lines)


def _training_section(training: dict, run_info: dict, stopping: dict | None = None) -> str:
    rows = [
        [f"`{k}`", scalar(v)]
        for k, v in training.items()
        if v is not None and not isinstance(v, dict)
    ]
    run_keys = (
        ("num_processes", "processes"),
        ("n_gpu", "GPUs per process"),
        ("device", "device"),
        ("precision", "precision"),
        ("distributed_backend", "distributed backend"),
        ("total_train_batch_size", "total train batch size"),
        ("finished_at", "finished at"),
    )
    rows += [
        [label, scalar(run_info[key])] for key, label in run_keys if run_info.get(key) is not None
    ]
    versions = run_info.get("versions")
    if isinstance(versions, dict) and versions:
        rows.append(["versions", ", ".join(f"{k} {v}" for k, v in versions.items())])
    if not rows:
        return ""
    lines = ["## Training setup", "", table(["setting", "value"], rows)]
    if stopping:
        lines += ["", early_stopping_text(stopping)]
    command = run_info.get("command")
    if command:
        command = " ".join(command) if isinstance(command, list | tuple) else str(command)
        lines += ["", "Command:", "", "```bash", command, "```"]
    return "\n".join(lines)


def _usage_section(model_path: str, sampling_rate: int) -> str:
    return f"""## Usage

```python
import soundfile
import torch
import torchaudio
from transformers import pipeline

classifier = pipeline("audio-classification", model="{model_path}")
samples, rate = soundfile.read("speech.wav", dtype="float32", always_2d=True)
mono = torch.from_numpy(samples.mean(axis=1))
audio = torchaudio.functional.resample(mono, rate, {sampling_rate}).numpy()
print(classifier({{"raw": audio, "sampling_rate": {sampling_rate}}}, top_k=3))
```

Or for files and folders:
`python -m training.inference.predict --model_dir {model_path} speech.wav`."""


def corpus_section(corpus: str | None, split: dict) -> str:
    """Files per actor and channel of the data the run used, and clips dropped as too short:
    a partial corpus must never pass for the full one."""
    dropped = split.get("dropped_too_short") or []
    if not corpus and not dropped:
        return ""
    lines = ["## Corpus used", ""]
    if corpus:
        lines.append(corpus)
    if dropped:
        lines += [
            "",
            f"{len(dropped)} clips too short for the model's feature encoder (no frame) were "
            f"left out of training and evaluation: {', '.join(dropped[:10])}"
            + (" ..." if len(dropped) > 10 else ""),
        ]
    return "\n".join(lines)


def model_card_markdown(output_dir: str | Path, info: dict) -> str:
    """The model card text; reads config.json and preprocessor_config.json in `output_dir`."""
    output_dir = Path(output_dir)
    config = _read_json(output_dir / "config.json")
    preprocessor = _read_json(output_dir / "preprocessor_config.json")
    title = info.get("model_name") or output_dir.resolve().name
    rate = info.get("sampling_rate") or preprocessor.get("sampling_rate") or TARGET_SAMPLING_RATE
    facts = corpus_card.corpus_of(info)
    targets = (info.get("task") or {}).get("targets")
    sections = [
        _front_matter(info, config.get("model_type"), title),
        f"# {title}\n\nSpeech emotion recognition on {facts['title']}: "
        + (
            f"a model that answers with {', '.join(targets)} on the ratings' scale"
            if targets
            else "an audio-classification model that answers with one of the emotion names below"
        )
        + ".",
        _model_section(info, config),
        _data_section(info),
        corpus_section(info.get("corpus"), info.get("split") or {}),
        _split_section(info.get("split") or {}, facts),
        split_guarantees_section(info.get("split") or {}),
        _metrics_section(
            info.get("test_metrics") or {}, info.get("eval_metrics") or {}, info.get("breakdown")
        ),
        target_results_section(info) if targets else uncertainty_sections(info, output_dir),
        calibration_section(info.get("calibration"), output_dir) if targets else "",
        corpus_card.cross_corpus_markdown(info["cross_corpus"]) if info.get("cross_corpus") else "",
        _figures_section(output_dir),
        target_figures(output_dir, info) if targets else "",
        _training_section(
            info.get("training") or {},
            info.get("run_info") or {},
            (info.get("test_metrics") or {}).get("early_stopping"),
        ),
        corpus_card.limits_section(facts),
        corpus_card.license_section(facts),
        target_usage_section(str(output_dir), int(rate), info)
        if targets
        else _usage_section(str(output_dir), int(rate)),
    ]
    return "\n\n".join(section.strip("\n") for section in sections if section) + "\n"


def write_model_card(output_dir: str | Path, info: dict) -> Path:
    """Write `README.md` (YAML front matter + sections) into the model directory."""
    return write_text_atomic(
        Path(output_dir) / MODEL_CARD_NAME, model_card_markdown(output_dir, info)
    )
