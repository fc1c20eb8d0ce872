"""Put a classification head on a fine-tuned wav2vec2-family encoder.

The checkpoint may be a `pytorch_model.bin` / `model.safetensors` file plus a config, a
`save_pretrained` directory or a hub id, saved from a CTC, pre-training or bare encoder
model. `from_pretrained` does the tensor matching (prefixes, legacy weight-norm names,
`weights_only=True` for pickles); this module stages single files for it, turns its loading
info into a transfer report, and refuses anything that would silently train from scratch.
"""

from __future__ import annotations

import logging
import os
import pickle
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors import SafetensorError
from transformers import (
    AutoConfig,
    AutoFeatureExtractor,
    AutoModelForAudioClassification,
    PretrainedConfig,
    PreTrainedModel,
    Wav2Vec2FeatureExtractor,
)
from transformers.utils import logging as hf_logging

from data_scripts.common.audio_decoding import TARGET_SAMPLING_RATE
from data_scripts.corpora.registry import DOWNLOAD_LABELS
from training.model.checkpoint_refusal import damaged_message, refusal_message
from training.model.pooling_choices import POOLING_CHOICES

logger = logging.getLogger(__name__)

WEIGHT_FILE_NAMES = {".bin": "pytorch_model.bin", ".safetensors": "model.safetensors"}
# Parameters the sequence-classification classes add on top of the encoder.
HEAD_PARAMETERS = ("classifier.", "projector.", "layer_weights")


class CheckpointError(ValueError):
    """The checkpoint cannot become a classifier; the message names the file and the tensors."""


@dataclass
class TransferReport:
    """Which checkpoint tensors were copied into the classifier, dropped, or newly created."""

    copied: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    new: list[str] = field(default_factory=list)

    def summary(self) -> str:
        dropped = ", ".join(sorted(self.dropped)[:8]) + (" ..." if len(self.dropped) > 8 else "")
        return (
            f"transfer: {len(self.copied)} encoder tensors copied, "
            f"{len(self.dropped)} dropped ({dropped or 'none'}), "
            f"{len(self.new)} new head tensors ({', '.join(sorted(self.new))})"
        )

    def as_dict(self) -> dict:
        return {
            "copied": sorted(self.copied),
            "dropped": sorted(self.dropped),
            "new": sorted(self.new),
        }


def _is_head_parameter(name: str) -> bool:
    return name.startswith(HEAD_PARAMETERS)


def _stage_checkpoint(model_path: Path, config_path: str | None, staging: Path) -> Path:
    """Link a lone weights file and its config into a folder `from_pretrained` understands."""
    suffix = model_path.suffix
    if suffix not in WEIGHT_FILE_NAMES:
        raise CheckpointError(
            f"{model_path}: expected a .bin or .safetensors weights file, a model directory "
            "or a hub id"
        )
    config_file = Path(config_path) if config_path else model_path.with_name("config.json")
    if not config_file.is_file():
        raise CheckpointError(
            f"{model_path}: no config found at {config_file}; pass --config_path with the "
            "checkpoint's config.json"
        )
    os.symlink(model_path.resolve(), staging / WEIGHT_FILE_NAMES[suffix])
    os.symlink(config_file.resolve(), staging / "config.json")
    return staging


def load_checkpoint_config(model_path: str, config_path: str | None = None) -> PretrainedConfig:
    """The encoder config: `config_path` if given, else the one beside or in the checkpoint."""
    path = Path(model_path)
    if config_path:
        source = Path(config_path)
    elif path.is_file():
        source = path.with_name("config.json")
    else:
        source = None
    if source is not None and not source.is_file():
        raise CheckpointError(
            f"{model_path}: no config found at {source}; pass --config_path with the "
            "checkpoint's config.json"
        )
    try:
        return AutoConfig.from_pretrained(source or model_path, trust_remote_code=False)
    except (OSError, ValueError) as error:
        raise CheckpointError(f"{model_path}: cannot read the model config: {error}") from error


def build_classifier(
    model_path: str,
    config_path: str | None = None,
    labels: tuple[str, ...] = DOWNLOAD_LABELS,
    pooling: str = "mean",
    classifier_proj_size: int = 256,
    attn_implementation: str | None = None,
) -> tuple[PreTrainedModel, TransferReport]:
    """A `*ForSequenceClassification` model whose encoder holds every checkpoint encoder tensor."""
    if pooling not in POOLING_CHOICES:
        raise ValueError(f"--pooling {pooling!r}: choose one of {', '.join(POOLING_CHOICES)}")
    path = Path(model_path)
    if not path.exists() and (
        path.suffix in WEIGHT_FILE_NAMES or model_path.startswith((".", "/"))
    ):
        raise CheckpointError(f"{model_path}: no such file or directory")
    config = load_checkpoint_config(model_path, config_path)
    config.num_labels = len(labels)
    config.id2label = dict(enumerate(labels))
    config.label2id = {name: i for i, name in enumerate(labels)}
    config.problem_type = "single_label_classification"
    config.classifier_proj_size = classifier_proj_size
    config.use_weighted_layer_sum = pooling == "weighted_layers"
    if config.use_weighted_layer_sum:
        # LayerDrop changes the number of hidden states per step, which breaks layer weights.
        config.layerdrop = 0.0
    # Weighted layers make the model return every hidden state; transformers before 5.2x then
    # hands them to the Trainer's evaluation loop beside the logits. Keep only the logits.
    config.keys_to_ignore_at_inference = ["hidden_states", "attentions"]
    kwargs = {"attn_implementation": attn_implementation} if attn_implementation else {}

    with tempfile.TemporaryDirectory() as staging:
        source = (
            _stage_checkpoint(path, config_path, Path(staging)) if path.is_file() else model_path
        )
        model, info = _from_pretrained(source, config, model_path, kwargs)

    mismatched = sorted(info["mismatched_keys"])
    if mismatched:
        shown = "; ".join(
            f"{name}: checkpoint {tuple(a)} vs config {tuple(b)}" for name, a, b in mismatched[:10]
        )
        raise CheckpointError(
            f"{model_path}: {len(mismatched)} tensors do not match the config's shapes "
            f"({shown}). Is --config_path the config this checkpoint was trained with?"
        )
    missing_encoder = sorted(k for k in info["missing_keys"] if not _is_head_parameter(k))
    if missing_encoder:
        raise CheckpointError(
            f"{model_path}: {len(missing_encoder)} encoder tensors are missing from the checkpoint "
            f"({', '.join(missing_encoder[:10])}); refusing to train a partly random encoder"
        )
    new = sorted(info["missing_keys"])
    if "layer_weights" in new:
        _equal_layer_weights(model)
    copied = sorted(k for k in model.state_dict() if k not in info["missing_keys"])
    report = TransferReport(copied=copied, dropped=sorted(info["unexpected_keys"]), new=new)
    if not copied:
        raise CheckpointError(f"{model_path}: no tensor of the checkpoint matched the encoder")
    logger.info(report.summary())
    return model, report


def _equal_layer_weights(model: PreTrainedModel) -> None:
    """Start a new weighted layer sum at equal weights, as the class's `__init__` means to.

    transformers 5 creates the model on the meta device and materialises tensors the checkpoint
    lacks with `torch.empty`. HuBERT's `_init_weights` then sets `layer_weights` to 1/(layers+1);
    wav2vec2's, WavLM's and data2vec-audio's (5.24) leave whatever memory held (seen: 0, 1e-17,
    -2e34; a CI probe trained to a NaN loss), so a weighted-layers run started from garbage.
    """
    with torch.no_grad():
        model.layer_weights.fill_(1.0 / model.layer_weights.numel())


def _from_pretrained(source, config, model_path: str, kwargs: dict):
    # transformers prints its own loading table; our transfer report replaces it.
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        return AutoModelForAudioClassification.from_pretrained(
            source,
            config=config,
            output_loading_info=True,
            ignore_mismatched_sizes=True,
            trust_remote_code=False,
            **kwargs,
        )
    except pickle.UnpicklingError as error:
        raise CheckpointError(refusal_message(model_path, error)) from error
    except SafetensorError as error:
        raise CheckpointError(damaged_message(model_path, error)) from error
    except OSError as error:
        if "pickle" in str(error).lower() or "weights_only" in str(error):
            raise CheckpointError(refusal_message(model_path, error)) from error
        raise CheckpointError(f"{model_path}: cannot load checkpoint: {error}") from error
    finally:
        hf_logging.set_verbosity(verbosity)


PREPROCESSOR_CONFIG = "preprocessor_config.json"


def find_preprocessor_config(model_path: str, config_path: str | None = None) -> Path | None:
    """The checkpoint's `preprocessor_config.json`: in the model folder, beside the weights
    file, or beside `--config_path`, in that order; None when there is none."""
    path = Path(model_path)
    folders = [path if path.is_dir() else path.parent]
    if config_path:
        folders.append(Path(config_path).parent)
    for folder in folders:
        candidate = folder / PREPROCESSOR_CONFIG
        if candidate.is_file():
            return candidate
    return None


def build_feature_extractor(
    model_path: str, config_path: str | None = None
) -> tuple[Wav2Vec2FeatureExtractor, str]:
    """The checkpoint's feature extractor and where its settings came from.

    Uses the checkpoint's `preprocessor_config.json` (see `find_preprocessor_config`), else a
    hub id's, else wav2vec2's defaults at 16 kHz, and says plainly which. The attention mask
    is always returned: normalisation and pooling must see real samples only.
    """
    found = find_preprocessor_config(model_path, config_path)
    path = Path(model_path)
    extractor, source = None, None
    if found is not None:
        extractor = Wav2Vec2FeatureExtractor.from_json_file(found)
        source = str(found)
    elif not path.exists():
        try:  # a hub id (or a cached one)
            extractor = AutoFeatureExtractor.from_pretrained(model_path, trust_remote_code=False)
            source = model_path
        except (OSError, ValueError):
            extractor = None
    if extractor is None:
        extractor = Wav2Vec2FeatureExtractor(
            feature_size=1, sampling_rate=TARGET_SAMPLING_RATE, padding_value=0.0, do_normalize=True
        )
        source = "defaults"
        logger.warning(
            "%s: no %s found (looked in the model folder%s); using wav2vec2's default feature "
            "extractor settings: %d Hz, per-utterance normalisation (do_normalize=True), "
            "padding value 0.0. Put the checkpoint's %s beside it if it used other settings.",
            model_path,
            PREPROCESSOR_CONFIG,
            " and beside --config_path" if config_path else "",
            TARGET_SAMPLING_RATE,
            PREPROCESSOR_CONFIG,
        )
    else:
        logger.info("feature extractor settings from %s", source)
    if extractor.sampling_rate != TARGET_SAMPLING_RATE:
        raise CheckpointError(
            f"{source}: feature extractor expects {extractor.sampling_rate} Hz; "
            f"the prepared data is {TARGET_SAMPLING_RATE} Hz"
        )
    extractor.return_attention_mask = True
    return extractor, source


def feature_extractor_settings(extractor: Wav2Vec2FeatureExtractor, source: str) -> dict:
    """What run_info.json records about the feature extractor."""
    return {
        "source": source,
        "sampling_rate": extractor.sampling_rate,
        "do_normalize": extractor.do_normalize,
        "padding_value": extractor.padding_value,
        "return_attention_mask": extractor.return_attention_mask,
    }
