"""The export's model card: the run's card (or a short one) plus what the export holds and how
it was checked, so a reader of `README.md` alone knows which answers to expect from which file."""

from __future__ import annotations

import datetime
from pathlib import Path

from data_scripts.common.atomic_write import write_text_atomic
from training.inference.manifest import MANIFEST_NAME
from training.inference.onnx_export import INT8_FILE, INT8_OPS, ONNX_FILE
from training.reports.card_text import front_matter

CARD_NAME = "README.md"
_SHORT_CARD_METADATA = {"library_name": "transformers", "pipeline_tag": "audio-classification"}
_ONNX_USAGE = """```python
import numpy as np, onnxruntime, soundfile
from transformers import AutoFeatureExtractor

extractor = AutoFeatureExtractor.from_pretrained(".")
session = onnxruntime.InferenceSession("{file}")
audio, rate = soundfile.read("clip.wav", dtype="float32")  # mono, at the extractor's rate
values = extractor(audio, sampling_rate=rate, return_tensors="np")["input_values"]
(logits,) = session.run(["logits"], {{"input_values": values.astype(np.float32)}})
```"""


def _size(path: Path) -> str:
    return f"{path.stat().st_size / 1e6:.1f} MB"


def _short_card(title: str) -> str:
    front = front_matter(_SHORT_CARD_METADATA)
    return f"{front}\n# {title}\n\nAn audio-classification model directory.\n"


def export_section(folder: Path, source: str, verification: dict) -> str:
    """The card's `## Export` section: files, checks, and how to use the ONNX files."""
    checked = verification["pipeline"]
    lines = [
        "## Export",
        "",
        f"Exported by `ser-export` from `{source}` on "
        f"{datetime.date.today().isoformat()}. `{MANIFEST_NAME}` lists every file's size and "
        "SHA-256; `ser-export --check DIR` re-checks them.",
        "",
        f"Checked before it was kept, in a fresh process with plain "
        f'`pipeline("audio-classification")`, one clip at a time, on {checked["clips"]} '
        f"{checked['reference_clips']}: labels identical to {checked['reference']}, "
        f"probabilities within {checked['tolerance']:g} (largest difference "
        f"{checked['max_abs_difference']:.1e}).",
    ]
    onnx = verification.get("onnx")
    if onnx:
        lines += [
            "",
            "| file | size | what it is |",
            "|---|---|---|",
            f"| `{ONNX_FILE}` | {_size(folder / ONNX_FILE)} | float32; onnxruntime gives the "
            f"PyTorch model's labels on {onnx['clips']} clips, probabilities within "
            f"{onnx['tolerance']:g} (largest difference {onnx['max_abs_difference']:.1e}) |",
        ]
        int8 = verification.get("int8")
        if int8:
            lines.append(
                f"| `{INT8_FILE}` | {_size(folder / INT8_FILE)} | onnxruntime dynamic int8 "
                f"quantization of the {'/'.join(INT8_OPS)} weights (convolutions stay float); "
                f"label agreement with `{ONNX_FILE}`: {100 * int8['label_agreement']:.1f} % of "
                f"{int8['clips']} clips |"
            )
        lines += [
            "",
            "Input `input_values` (the feature extractor's output, float32, batch x samples), "
            "output `logits`. There is no attention mask: score one clip at a time, or batches "
            "of clips of equal length. Padding would change the answers of group-norm models "
            "(wav2vec2-base and its family), whose first CNN layer normalises over the whole "
            "input, padding included.",
            "",
            _ONNX_USAGE.format(file=INT8_FILE if int8 else ONNX_FILE),
        ]
    return "\n".join(lines) + "\n"


def write_export_card(folder: Path, source: str, verification: dict) -> Path:
    """README.md in `folder`: the copied card (or a short one) with the export section added."""
    card = folder / CARD_NAME
    text = card.read_text() if card.is_file() else _short_card(Path(source).name)
    return write_text_atomic(
        card, text.rstrip("\n") + "\n\n" + export_section(folder, source, verification)
    )
