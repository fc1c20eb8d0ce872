"""Each clip's per-layer mean hidden states from a frozen encoder, computed once, cached as Arrow.

transformers' `*ForSequenceClassification` head is linear up to the classifier: a softmax-weighted
sum of the hidden states (`use_weighted_layer_sum`) or the last hidden state, then `projector` on
every frame, a masked mean over the real frames, then `classifier`. Linear maps commute with a
mean, so the head's output is an exact function of each layer's mean over the clip's frames. This
module computes those means once per clip (encoder in eval mode: no dropout, no time masking; in
length-sorted padded batches made batch-independent by `training.model.exact_forward`, so no clip's
numbers depend on its batch) and keeps them in an Arrow
table keyed by the encoder's weights and config, the feature extractor's settings and the rows'
content, so that epochs, folds and later runs reuse them.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import datasets
import numpy as np
import torch
from transformers import PreTrainedModel, Wav2Vec2FeatureExtractor

from training.model.exact_forward import feature_encoder, make_batch_independent
from training.model.freed_memory import release_freed_memory

logger = logging.getLogger(__name__)

# Bump when the cached columns or their meaning change.
CACHE_FORMAT = 2
CACHE_FOLDER = "frozen_encoder_features"
# Config fields that do not change what the encoder computes in eval mode (labels, head, dropout,
# masking, LayerDrop); the same encoder with other values shares the cache.
_HEAD_ONLY_CONFIG_KEYS = {
    "id2label",
    "label2id",
    "num_labels",
    "problem_type",
    "classifier_proj_size",
    "use_weighted_layer_sum",
    "architectures",
    "_name_or_path",
    "transformers_version",
    "output_hidden_states",
}
_EVAL_IRRELEVANT_MARKERS = ("dropout", "layerdrop", "mask_", "apply_spec_augment")
# Rows per Arrow record batch written: a few MB for a base model, whatever the corpus size.
WRITER_BATCH_SIZE = 64


def _hash_tensor(hasher, name: str, tensor: torch.Tensor) -> None:
    tensor = tensor.detach().to("cpu").contiguous()
    hasher.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)}".encode())
    hasher.update(tensor.view(-1).view(torch.uint8).numpy().tobytes())


def encoder_fingerprint(model: PreTrainedModel) -> str:
    """Hash of the encoder's tensors and of the config fields that change its eval output."""
    hasher = hashlib.blake2b(digest_size=16)
    for name, tensor in sorted(model.base_model.state_dict().items()):
        _hash_tensor(hasher, name, tensor)
    config = {
        key: value
        for key, value in model.config.to_dict().items()
        if key not in _HEAD_ONLY_CONFIG_KEYS
        and not any(marker in key for marker in _EVAL_IRRELEVANT_MARKERS)
    }
    config["attn_implementation"] = model.config._attn_implementation
    hasher.update(json.dumps(config, sort_keys=True, default=str).encode())
    return hasher.hexdigest()


# datasets fingerprint -> our content hash, so that the folds of a cross-validation (the same
# loaded dataset) hash the audio once per process.
_CONTENT_HASHES: dict[str, str] = {}


def data_fingerprint(dataset: datasets.Dataset) -> str:
    """Hash of every row: its audio samples and all other columns (so the cached copy of the
    metadata is the current one). Reads the audio once; a few seconds for all of RAVDESS."""
    known = _CONTENT_HASHES.get(dataset._fingerprint)
    if known is not None:
        return known
    hasher = hashlib.blake2b(digest_size=16)
    metadata = dataset.remove_columns("audio")
    hasher.update(json.dumps(metadata.features.to_dict(), sort_keys=True).encode())
    hasher.update(json.dumps(metadata.to_dict(), sort_keys=True, default=str).encode())
    for row in dataset.with_format("numpy", columns=["audio"]):
        audio = row["audio"]
        hasher.update(f"{int(audio['sampling_rate'])}:".encode())
        hasher.update(np.ascontiguousarray(audio["array"], dtype=np.float32).tobytes())
    _CONTENT_HASHES[dataset._fingerprint] = hasher.hexdigest()
    return _CONTENT_HASHES[dataset._fingerprint]


def cache_key(
    model: PreTrainedModel, feature_extractor: Wav2Vec2FeatureExtractor, dataset: datasets.Dataset
) -> str:
    extractor = feature_extractor.to_dict()
    parts = {
        "format": CACHE_FORMAT,
        "encoder": encoder_fingerprint(model),
        "feature_extractor": {
            k: extractor.get(k)
            for k in ("do_normalize", "padding_value", "sampling_rate", "feature_size")
        },
        "data": data_fingerprint(dataset),
    }
    return hashlib.blake2b(json.dumps(parts, sort_keys=True).encode(), digest_size=16).hexdigest()


@torch.inference_mode()
def pooled_hidden_states(
    model: PreTrainedModel,
    feature_extractor: Wav2Vec2FeatureExtractor,
    waveforms: list[np.ndarray],
    device: torch.device | str = "cpu",
) -> tuple[np.ndarray, np.ndarray]:
    """A batch of clips: per clip, the mean over its real frames of every hidden state
    (clips x layers x hidden, the ones the weighted layer sum stacks) and of the last hidden
    state (clips x hidden). For encoders with a final layer norm (`do_stable_layer_norm`) the
    two last ones differ, so both are kept. Install `training.model.exact_forward` first (as
    `cached_pooled_features` does) so that padding changes no clip's numbers."""
    inputs = feature_extractor(
        [np.asarray(waveform, dtype=np.float32) for waveform in waveforms],
        sampling_rate=feature_extractor.sampling_rate,
        padding=True,
        return_attention_mask=True,
        return_tensors="pt",
    )
    mask = inputs["attention_mask"].to(device)
    outputs = model.base_model(
        inputs["input_values"].to(device), attention_mask=mask, output_hidden_states=True
    )
    last = outputs.last_hidden_state
    frames = model.base_model._get_feature_vector_attention_mask(last.shape[1], mask)
    frames = frames.to(last.dtype)
    counts = frames.sum(dim=1)
    stacked = torch.stack(outputs.hidden_states, dim=1)  # clips x layers x frames x hidden
    layers = (stacked * frames[:, None, :, None]).sum(dim=2) / counts[:, None, None]
    last = (last * frames[..., None]).sum(dim=1) / counts[:, None]
    return layers.float().cpu().numpy(), last.float().cpu().numpy()


def _length_sorted_batches(lengths: list[int], batch_size: int) -> list[list[int]]:
    """Positions grouped into batches of similar length (little padding to compute)."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def feature_columns(model: PreTrainedModel) -> dict:
    layers = model.config.num_hidden_layers + 1
    hidden = model.config.hidden_size
    return {
        "hidden_states": datasets.Array2D((layers, hidden), "float32"),
        "last_hidden_state": datasets.List(datasets.Value("float32"), length=hidden),
    }


def cached_pooled_features(
    model: PreTrainedModel,
    feature_extractor: Wav2Vec2FeatureExtractor,
    dataset: datasets.Dataset,
    cache_dir: str | Path | None = None,
    device: torch.device | str = "cpu",
    batch_size: int = 8,
) -> datasets.Dataset:
    """`dataset` without its audio, plus the pooled hidden states of each row, in the same order.

    Built once with `Dataset.from_generator` (written to disk in small record batches, so memory
    does not grow with the number of clips) under `cache_dir/frozen_encoder_features`, and found
    there again by its key on later calls.
    """
    key = cache_key(model, feature_extractor, dataset)
    root = Path(cache_dir or datasets.config.HF_DATASETS_CACHE) / CACHE_FOLDER
    metadata = dataset.remove_columns("audio")
    features = datasets.Features({**metadata.features, **feature_columns(model)})
    encoder = model.base_model
    was_training = encoder.training
    encoder.eval()
    # Padded batches, exact: the group-normed CNN layer runs on each clip at its own length.
    installed_before = getattr(feature_encoder(model), "_batch_independence", None)
    independence = make_batch_independent(model)
    computed = {"clips": 0}

    def rows():
        audio = dataset.with_format("numpy", columns=["audio"])
        for start in range(0, len(dataset), WRITER_BATCH_SIZE):
            chunk = range(start, min(start + WRITER_BATCH_SIZE, len(dataset)))
            waveforms = [audio[i]["audio"]["array"] for i in chunk]
            pooled: dict[int, tuple] = {}
            for batch in _length_sorted_batches([len(w) for w in waveforms], batch_size):
                layers, last = pooled_hidden_states(
                    model, feature_extractor, [waveforms[i] for i in batch], device
                )
                pooled.update((i, (layers[k], last[k])) for k, i in enumerate(batch))
                computed["clips"] += len(batch)
                release_freed_memory()
            for position, index in enumerate(chunk):
                layers, last = pooled[position]
                yield {**metadata[index], "hidden_states": layers, "last_hidden_state": last}

    try:
        cached = datasets.Dataset.from_generator(
            rows,
            features=features,
            cache_dir=str(root),
            fingerprint=key,
            writer_batch_size=WRITER_BATCH_SIZE,
        )
    finally:
        encoder.train(was_training)
        if independence is not None and installed_before is None:
            independence.remove()
    logger.info(
        "frozen-encoder features: %s (%d clips, key %s, %s)",
        "computed" if computed["clips"] else "reused from the cache",
        len(cached),
        key,
        root,
    )
    cached.computed_now = computed["clips"]
    return cached
