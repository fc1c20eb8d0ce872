"""What a person reads after a run: confusion matrix and training curves (PNG), model cards.

Plots use matplotlib's Agg canvas directly (no pyplot, no display, no global backend switch).
Every optional piece of information may be missing: the report then leaves it out.

`write_model_card(output_dir, info)` reads these keys of `info` (all optional):
    base_model      str: the checkpoint training started from (path or hub id).
    model_name      str: title of the card (default: the output folder's name).
    pooling         str: the classification head's pooling (e.g. "mean", "weighted_layers").
    vocal_channel   "speech" | "song" | "all".
    sampling_rate   int: model input rate (default: preprocessor_config.json, else 16 kHz).
    split           dict: protocol ("speaker" | "kfold" | "random"), seed, fold, num_folds,
                    and per split name ("train", "validation", "test") its actors and file count:
                    either split_summary's layout (split.json), split["splits"][name] =
                    {"actors": [...], "count": n} (else the length of its "files" list), or
                    flat, split["actors"][name] and split["counts"][name].
    test_metrics    dict: test_accuracy, test_uar, test_macro_f1, test_loss, test_samples,
                    test_recall_<emotion>, and breakdowns test_<group>_{accuracy,uar,macro_f1,count}
                    for group in speech, song, normal, strong (test_confusion_matrix is not shown).
    eval_metrics    dict: eval_accuracy, eval_uar, eval_macro_f1 of the kept checkpoint.
    training        dict: hyperparameter name -> scalar value, shown as a table.
    run_info        dict: num_processes, device, n_gpu, precision, distributed_backend,
                    total_train_batch_size, finished_at, versions (dict), command (list or str).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import yaml
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from data_scripts.ravdess_facts import (
    INTENSITIES,
    TARGET_SAMPLING_RATE,
    VOCAL_CHANNELS,
    actor_gender,
)

MODEL_CARD_NAME = "README.md"
CONFUSION_MATRIX_PNG = "confusion_matrix.png"
TRAINING_CURVES_PNG = "training_curves.png"
DATA_LICENSE = "cc-by-nc-sa-4.0"
SPLIT_NAMES = ("train", "validation", "test")
HEADLINE_METRICS = {
    "accuracy": "Accuracy",
    "uar": "UAR (unweighted average recall)",
    "macro_f1": "Macro-F1",
}
BREAKDOWN_GROUPS = (*VOCAL_CHANNELS, *INTENSITIES)
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
PROTOCOLS = {
    "speaker": "speaker-independent: train, validation and test actors are disjoint",
    "kfold": "speaker-independent k-fold: each fold tests on actors never seen in training",
    "random": "file-level random split: the same actors appear in training and test, so the "
    "numbers are NOT speaker-independent and overstate accuracy on new voices",
}
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def _write_atomically(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Write through a temporary name and rename, so a crash never leaves half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    write(temporary)
    os.replace(temporary, path)
    return path


def _save_figure(figure: Figure, path: str | Path) -> Path:
    FigureCanvasAgg(figure)
    return _write_atomically(path, lambda p: figure.savefig(p, format="png", dpi=120))


# --- plots ------------------------------------------------------------------------------------


def plot_confusion_matrix(
    matrix: list[list[int]], labels: list[str], path: str | Path, title: str | None = None
) -> Path:
    """Counts in each cell, shaded by row-normalised recall; rows are the true emotions."""
    counts = np.asarray(matrix, dtype=np.int64)
    if counts.ndim != 2 or counts.shape != (len(labels), len(labels)):
        raise ValueError(
            f"{path}: confusion matrix of shape {counts.shape} does not match {len(labels)} labels"
        )
    row_totals = counts.sum(axis=1, keepdims=True)
    recall = np.divide(counts, row_totals, out=np.zeros(counts.shape), where=row_totals > 0)
    size = 1.5 + 0.75 * len(labels)
    figure = Figure(figsize=(size + 1.5, size))
    axes = figure.add_subplot()
    image = axes.imshow(recall, cmap="Blues", vmin=0.0, vmax=1.0)
    figure.colorbar(image, ax=axes, label="share of the true class (recall on the diagonal)")
    for row in range(len(labels)):
        for column in range(len(labels)):
            axes.text(
                column,
                row,
                f"{counts[row, column]}",
                ha="center",
                va="center",
                color="white" if recall[row, column] > 0.5 else "black",
            )
    axes.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    axes.set_yticks(range(len(labels)), labels)
    axes.set_xlabel("predicted emotion")
    axes.set_ylabel("true emotion")
    total = int(counts.sum())
    accuracy = np.trace(counts) / total if total else 0.0
    axes.set_title(title or f"Confusion matrix ({total} clips, accuracy {100 * accuracy:.1f} %)")
    figure.tight_layout()
    return _save_figure(figure, path)


def _series(log_history: list[dict], key: str) -> tuple[list[float], list[float]]:
    """(x, y) for every log entry holding `key`; x is the epoch, else the step."""
    points = [
        (entry.get("epoch", entry.get("step", index)), entry[key])
        for index, entry in enumerate(log_history)
        if isinstance(entry.get(key), int | float)
    ]
    return [float(x) for x, _ in points], [float(y) for _, y in points]


def plot_training_curves(log_history: list[dict], path: str | Path) -> Path:
    """Training loss per logging step and validation loss, UAR and accuracy per evaluation."""
    figure = Figure(figsize=(11, 4.2))
    loss_axes, metric_axes = figure.subplots(1, 2)
    x_label = "epoch" if any("epoch" in entry for entry in log_history) else "step"
    for key, label, style in (
        ("loss", "training loss", "-"),
        ("eval_loss", "validation loss", "o-"),
    ):
        x, y = _series(log_history, key)
        if x:
            loss_axes.plot(x, y, style, label=label, markersize=4)
    for key, label in (("eval_uar", "validation UAR"), ("eval_accuracy", "validation accuracy")):
        x, y = _series(log_history, key)
        if x:
            metric_axes.plot(x, y, "o-", label=label, markersize=4)
    for axes, title in ((loss_axes, "Loss"), (metric_axes, "Validation metrics")):
        axes.set_title(title)
        axes.set_xlabel(x_label)
        axes.grid(alpha=0.3)
        if axes.lines:
            axes.legend()
        else:
            axes.text(
                0.5, 0.5, "nothing logged", ha="center", va="center", transform=axes.transAxes
            )
    metric_axes.set_ylim(0.0, 1.0)
    figure.tight_layout()
    return _save_figure(figure, path)


# --- formatting helpers ---------------------------------------------------------------------


def _is_number(value) -> bool:
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool)


def _percent(value) -> str:
    return f"{100 * float(value):.1f}" if _is_number(value) else ""


def _scalar(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list | tuple):
        return " ".join(str(v) for v in value)
    return str(value)


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _actor_list(actors) -> str:
    actors = sorted(int(a) for a in actors)
    males = sum(actor_gender(a) == "male" for a in actors)
    listed = ", ".join(str(a) for a in actors)
    return f"{listed} ({males} male, {len(actors) - males} female)"


def _split_part(split: dict, name: str) -> tuple[list | None, int | None]:
    """Actors and file count of one split, from either accepted layout of `split`."""
    nested = (split.get("splits") or {}).get(name) or {}
    actors = (split.get("actors") or {}).get(name, nested.get("actors"))
    count = (split.get("counts") or {}).get(name, nested.get("count"))
    if count is None and isinstance(nested.get("files"), list) and nested["files"]:
        count = len(nested["files"])
    return actors, count


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


# --- model card -------------------------------------------------------------------------------


def _front_matter(info: dict, model_type: str | None, title: str) -> str:
    metadata: dict = {
        "license": DATA_LICENSE,
        "library_name": "transformers",
        "pipeline_tag": "audio-classification",
        "tags": ["audio-classification", "speech-emotion-recognition", "ravdess"]
        + ([model_type] if model_type else []),
        "datasets": ["ravdess"],
        "metrics": ["accuracy", "recall", "f1"],
    }
    base = info.get("base_model")
    if isinstance(base, str) and HUB_ID.match(base) and not Path(base).exists():
        metadata["base_model"] = base
    test = info.get("test_metrics") or {}
    results = [
        {"type": t, "name": name, "value": round(float(test[key]), 4)}
        for key, t, name in (
            ("test_accuracy", "accuracy", "Accuracy"),
            ("test_uar", "recall", "UAR (unweighted average recall)"),
            ("test_macro_f1", "f1", "Macro-F1"),
        )
        if _is_number(test.get(key))
    ]
    if results:
        split = (info.get("split") or {}).get("protocol", "test")
        metadata["model-index"] = [
            {
                "name": title,
                "results": [
                    {
                        "task": {"type": "audio-classification", "name": "Emotion recognition"},
                        "dataset": {
                            "type": "ravdess",
                            "name": f"RAVDESS ({split} split)",
                            "split": "test",
                        },
                        "metrics": results,
                    }
                ],
            }
        ]
    return "---\n" + yaml.safe_dump(metadata, sort_keys=False) + "---\n"


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
    if isinstance(labels, dict) and labels:
        names = [labels[k] for k in sorted(labels, key=int)]
        lines.append(f"- Classes ({len(names)}): {', '.join(names)}")
    return "\n".join(lines) if len(lines) > 2 else ""


def _data_section(info: dict) -> str:
    channel = info.get("vocal_channel")
    channels = {"speech": "speech", "song": "song", "all": "speech and song"}.get(channel, channel)
    lines = [
        "## Data",
        "",
        "RAVDESS audio-only recordings (16-bit, 48 kHz, resampled for the model): 24 "
        "professional actors (12 male, 12 female) speaking or singing two neutral statements.",
    ]
    if channels:
        lines.append(f"Vocal channel used: **{channels}**.")
    if channel in ("song", "all"):
        lines.append("Song has no disgust and no surprised recordings; actor 18 has no song.")
    return "\n".join(lines)


def _split_section(split: dict) -> str:
    if not split:
        return ""
    protocol = split.get("protocol")
    lines = ["## Split protocol", ""]
    if protocol:
        described = PROTOCOLS.get(protocol, protocol)
        lines.append(f"Protocol: `{protocol}` ({described}).")
    details = [
        f"{key} {split[key]}" for key in ("seed", "fold", "num_folds") if split.get(key) is not None
    ]
    if details:
        lines.append(f"Settings: {', '.join(details)}.")
    rows = []
    for name in SPLIT_NAMES:
        actors, count = _split_part(split, name)
        if actors is None and count is None:
            continue
        rows.append([name, _actor_list(actors) if actors else "", str(count or "")])
    if rows:
        lines += ["", _table(["split", "actors", "files"], rows)]
    return "\n".join(lines) if len(lines) > 2 else ""


def _metrics_section(test: dict, evaluation: dict) -> str:
    rows = []
    for key, label in HEADLINE_METRICS.items():
        if _is_number(test.get(f"test_{key}")) or _is_number(evaluation.get(f"eval_{key}")):
            rows.append(
                [label, _percent(test.get(f"test_{key}")), _percent(evaluation.get(f"eval_{key}"))]
            )
    recalls = [
        (key.removeprefix("test_recall_"), value)
        for key, value in test.items()
        if key.startswith("test_recall_") and _is_number(value)
    ]
    rows += [[f"Recall: {name}", _percent(value), ""] for name, value in recalls]
    if not rows:
        return ""
    lines = ["## Results", ""]
    if _is_number(test.get("test_samples")):
        lines.append(f"Test set: {int(test['test_samples'])} clips. Values in percent.")
        lines.append("")
    lines.append(_table(["metric", "test (%)", "validation (%)"], rows))
    if _is_number(test.get("test_loss")):
        lines.append(f"\nTest loss: {float(test['test_loss']):.4f}.")
    breakdown = []
    for group in BREAKDOWN_GROUPS:
        values = [test.get(f"test_{group}_{key}") for key in HEADLINE_METRICS]
        if any(_is_number(v) for v in values):
            count = test.get(f"test_{group}_count")
            breakdown.append(
                [group, str(count) if count is not None else ""] + [_percent(v) for v in values]
            )
    if breakdown:
        header = ["test subset", "clips", "accuracy (%)", "UAR (%)", "macro-F1 (%)"]
        lines += ["", "By vocal channel and intensity:", "", _table(header, breakdown)]
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


def _training_section(training: dict, run_info: dict) -> str:
    rows = [
        [f"`{k}`", _scalar(v)]
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
        [label, _scalar(run_info[key])] for key, label in run_keys if run_info.get(key) is not None
    ]
    versions = run_info.get("versions")
    if isinstance(versions, dict) and versions:
        rows.append(["versions", ", ".join(f"{k} {v}" for k, v in versions.items())])
    if not rows:
        return ""
    lines = ["## Training setup", "", _table(["setting", "value"], rows)]
    command = run_info.get("command")
    if command:
        command = " ".join(command) if isinstance(command, list | tuple) else str(command)
        lines += ["", "Command:", "", "```bash", command, "```"]
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


def _license_section() -> str:
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

Or for files and folders: `python -m training.predict --model_dir {model_path} speech.wav`."""


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
    sections = [
        _front_matter(info, config.get("model_type"), title),
        f"# {title}\n\nSpeech emotion recognition on RAVDESS: an audio-classification model "
        "that answers with one of the emotion names below.",
        _model_section(info, config),
        _data_section(info),
        corpus_section(info.get("corpus"), info.get("split") or {}),
        _split_section(info.get("split") or {}),
        _metrics_section(info.get("test_metrics") or {}, info.get("eval_metrics") or {}),
        _figures_section(output_dir),
        _training_section(info.get("training") or {}, info.get("run_info") or {}),
        LIMITS_SECTION,
        _license_section(),
        _usage_section(str(output_dir), int(rate)),
    ]
    return "\n\n".join(section.strip("\n") for section in sections if section) + "\n"


def write_model_card(output_dir: str | Path, info: dict) -> Path:
    """Write `README.md` (YAML front matter + sections) into the model directory."""
    text = model_card_markdown(output_dir, info)
    return _write_atomically(Path(output_dir) / MODEL_CARD_NAME, lambda p: p.write_text(text))


# --- cross-validation summary -----------------------------------------------------------------


def _fold_metric(fold: dict, name: str):
    metrics = fold.get("test_metrics") if isinstance(fold.get("test_metrics"), dict) else fold
    return metrics.get(f"test_{name}", metrics.get(name))


def summarize_folds(
    fold_results: list[dict], metrics: tuple[str, ...] = tuple(HEADLINE_METRICS)
) -> dict[str, dict[str, float]]:
    """{metric: {"mean", "std"}} over the folds that report it (std with ddof=0, as numpy)."""
    summary = {}
    for name in metrics:
        values = [v for v in (_fold_metric(f, name) for f in fold_results) if _is_number(v)]
        if values:
            summary[name] = {"mean": float(np.mean(values)), "std": float(np.std(values))}
    return summary


def _normalise_summary(summary: dict | None, fold_results: list[dict]) -> dict:
    """Accept {"accuracy": {...}} or {"test_accuracy": {...}}; compute it when not given."""
    if not summary:
        return summarize_folds(fold_results)
    return {
        key.removeprefix("test_"): value
        for key, value in summary.items()
        if isinstance(value, dict) and "mean" in value
    }


def _mean_std(entry: dict) -> str:
    return f"{_percent(entry['mean'])} ± {_percent(entry.get('std', 0.0))}"


def _fold_actors(fold: dict) -> str:
    actors = fold.get("test_actors")
    if actors is None and isinstance(fold.get("split"), dict):
        actors, _ = _split_part(fold["split"], "test")
    return ", ".join(str(a) for a in sorted(actors)) if actors else ""


def cv_summary_markdown(fold_results: list[dict], summary: dict | None = None) -> str:
    """A Markdown table with one row per fold and a final mean ± std row (values in percent)."""
    summary = _normalise_summary(summary, fold_results)
    names = list(summary) or list(HEADLINE_METRICS)
    labels = [HEADLINE_METRICS.get(n, n).split(" (")[0] + " (%)" for n in names]
    rows = []
    for index, fold in enumerate(fold_results):
        samples = _fold_metric(fold, "samples")
        rows.append(
            [str(fold.get("fold", index)), _fold_actors(fold), str(samples or "")]
            + [_percent(_fold_metric(fold, name)) for name in names]
        )
    rows.append(
        ["**mean ± std**", "", ""] + [_mean_std(summary[n]) if n in summary else "" for n in names]
    )
    lines = [_table(["fold", "test actors", "test clips", *labels], rows)]
    recall_names = sorted(
        {
            key.removeprefix("test_recall_")
            for fold in fold_results
            for key in (fold.get("test_metrics") or fold)
            if key.startswith("test_recall_")
        }
    )
    recall_summary = summarize_folds(fold_results, tuple(f"recall_{n}" for n in recall_names))
    if recall_summary:
        recall_rows = [
            [key.removeprefix("recall_"), _mean_std(value)] for key, value in recall_summary.items()
        ]
        lines += [
            "",
            "Per-class test recall over folds:",
            "",
            _table(["emotion", "recall (%), mean ± std"], recall_rows),
        ]
    return "\n".join(lines) + "\n"


def write_cv_summary_card(
    output_dir: str | Path, fold_results: list[dict], summary: dict | None = None
) -> Path:
    """Write one README.md summarising a speaker-independent cross-validation."""
    metadata = {
        "license": DATA_LICENSE,
        "tags": ["audio-classification", "speech-emotion-recognition", "ravdess"],
        "datasets": ["ravdess"],
        "metrics": ["accuracy", "recall", "f1"],
    }
    text = "\n\n".join(
        [
            "---\n" + yaml.safe_dump(metadata, sort_keys=False) + "---",
            f"# Cross-validation on RAVDESS ({len(fold_results)} folds)",
            "Speaker-independent k-fold cross-validation: each fold's test actors were never "
            "seen in its training or validation data. Each fold's model is in `fold_<k>/` with "
            "its own model card. Values in percent; std is the population standard deviation "
            "over folds (ddof=0).",
            cv_summary_markdown(fold_results, summary).strip("\n"),
            LIMITS_SECTION,
            _license_section(),
        ]
    )
    path = Path(output_dir) / MODEL_CARD_NAME
    return _write_atomically(path, lambda p: p.write_text(text + "\n"))
