"""The frozen CNN feature encoder's outputs, computed once per clip and reused by every pass.

With `freeze_feature_encoder` (every preset) the CNN never changes, yet without this every
training step and every validation or test pass runs it again on every clip: about 40 % of a
small-preset forward on CPU, so a 20-epoch run computes the same outputs 40 times. Here each
clip's CNN output is computed once, as a training forward computes it (group norm over the whole
clip: in a padded batch whose first layer's statistics are masked to each clip, or made
batch-independent by `training.model.exact_forward` for other layouts), and kept
in one float32 array, in memory or in a memory-mapped file in the cache folder. float32, not
float16: float16 storage rounds each value by up to 5e-4 relative, past the 1e-5 identity with the
uncached path.

The cached features reach the model as its `input_values`, shaped (clips, channels, frames)
instead of (clips, samples); `pass_cached_features` makes the CNN hand such an input straight
on (a 3-D input is never audio: the CNN adds the channel axis itself). Everything after the CNN
(feature projection, SpecAugment, LayerDrop, the transformer, pooling) runs as before, and the
sample-level attention mask still says each clip's real length, so frames are masked as before.

Random crops of training clips longer than `max_train_seconds` start at any sample and are
normalised on their own (zero mean, unit variance over the crop), so no slice of the whole
clip's frames equals a crop's frames, whatever the CNN's norm: those clips are not cached, and
their crops are computed every step as before (`LIVE_AUDIO`).

It cannot augment: `--augment` corrupts every training clip anew at every step, so there is no
one CNN output per clip to keep. A run with `--augment` is not cached (one warning line says so,
`cached_cnn_training.AUGMENT_NOT_CACHED`) and its frozen CNN runs on every step.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from training.data.batching import normalised_batch
from training.model.exact_forward import feature_encoder, make_batch_independent

logger = logging.getLogger(__name__)

# Clips computed at step time (random crops) travel in the batch under these keys: their
# normalised audio, padded; their rows in the batch; their lengths. Popped before the model.
LIVE_AUDIO = "cnn_live_audio"
LIVE_ROWS = "cnn_live_rows"
LIVE_LENGTHS = "cnn_live_lengths"
# Default bounds: a quarter of the memory available now, half of the cache disk's free space.
MEMORY_FRACTION = 0.25
DISK_FRACTION = 0.5
BYTES_PER_VALUE = 4  # float32
GB = 1e9


def frame_counts(config, samples: np.ndarray) -> np.ndarray:
    """The CNN's output frames for clips of `samples` samples (transformers' formula)."""
    frames = np.asarray(samples, dtype=np.int64)
    for kernel, stride in zip(config.conv_kernel, config.conv_stride, strict=True):
        frames = (frames - kernel) // stride + 1
    return frames


def available_memory_bytes() -> int:
    """MemAvailable from /proc/meminfo (Linux), else what psutil-free Python can tell: 0."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


@dataclass
class StoragePlan:
    """Where the cache goes (`memory`, `disk` or None: not cached) and the line that says so."""

    place: str | None
    size_bytes: int
    message: str


def plan_storage(
    size_bytes: int,
    bound_gb: float | None,
    folder: Path,
    memory_fraction: float = MEMORY_FRACTION,
    disk_fraction: float = DISK_FRACTION,
) -> StoragePlan:
    """Memory when the cache fits a fraction of the available memory, else a file in `folder`
    when it fits a fraction of its free disk; never more than `bound_gb` (default: the larger of
    the two fractions). Over the bound: not cached, with one line saying so."""
    memory = int(available_memory_bytes() * memory_fraction)
    folder.mkdir(parents=True, exist_ok=True)
    disk = int(shutil.disk_usage(folder).free * disk_fraction)
    bound = max(memory, disk) if bound_gb is None else int(bound_gb * GB)
    size = f"{size_bytes / GB:.2f} GB"
    flag = "the default bound" if bound_gb is None else "--feature_cache_gb"
    if size_bytes > bound:
        return StoragePlan(
            None,
            size_bytes,
            f"CNN feature cache: {size} needed, over {flag} ({bound / GB:.2f} GB); the frozen "
            "CNN runs on every step instead (raise --feature_cache_gb to cache it)",
        )
    if size_bytes <= memory:
        return StoragePlan("memory", size_bytes, f"CNN feature cache: {size} float32 in memory")
    if size_bytes <= disk:
        return StoragePlan("disk", size_bytes, f"CNN feature cache: {size} float32 in {folder}")
    return StoragePlan(
        None,
        size_bytes,
        f"CNN feature cache: {size} fits neither {memory / GB:.2f} GB of memory nor "
        f"{disk / GB:.2f} GB of disk in {folder}; the frozen CNN runs on every step instead",
    )


def _allocate(plan: StoragePlan, folder: Path, shape: tuple[int, int]) -> np.ndarray:
    if plan.place == "memory":
        return np.empty(shape, dtype=np.float32)
    # Unlinked at once: the mapping (and forked data-loading workers') keeps the pages, and
    # no file is left behind, however the run ends.
    handle, path = tempfile.mkstemp(prefix="cnn_features_", suffix=".f32", dir=folder)
    os.close(handle)
    try:
        return np.memmap(path, dtype=np.float32, mode="w+", shape=shape)
    finally:
        os.unlink(path)


class CnnFeatureCache:
    """Every cached clip's CNN output, (frames, channels) each, rows of one float32 array.

    Clips are numbered across the splits (`first_id`); `audio(clip)` gives the waveform of a clip
    that is computed at step time instead (a random crop)."""

    def __init__(self, config, channels: int, plan: StoragePlan):
        self.config = config
        self.channels = channels
        self.plan = plan
        self.offsets = np.zeros(1, dtype=np.int64)
        self.frames = np.zeros(0, dtype=np.int64)
        self.samples = np.zeros(0, dtype=np.int64)
        self.cached = np.zeros(0, dtype=bool)
        self.values: np.ndarray | None = None
        self._audio: list[tuple[int, object]] = []  # (first id, numpy-format audio view)

    def features(self, clip: int) -> np.ndarray:
        """The clip's CNN output, (frames, channels)."""
        return self.values[self.offsets[clip] : self.offsets[clip + 1]]

    def audio(self, clip: int) -> np.ndarray:
        for first, view in reversed(self._audio):
            if clip >= first:
                return np.asarray(view[clip - first]["audio"]["array"], dtype=np.float32)
        raise IndexError(clip)

    def summary(self) -> dict:
        """What run_info.json records about the cache."""
        return {
            "place": self.plan.place,
            "gigabytes": round(self.plan.size_bytes / GB, 4),
            "clips_cached": int(self.cached.sum()),
            "clips_computed_each_step": int((~self.cached).sum()),
            "dtype": "float32",
        }


@torch.no_grad()
def cnn_outputs(
    model: nn.Module, extractor, waveforms: list[np.ndarray], independence=None
) -> torch.Tensor:
    """The CNN's output for a padded batch of clips, (clips, channels, frames), normalised by the
    feature extractor as the collator does. `independence` (`make_batch_independent`'s, None
    where padding is exact already) gets the batch's mask, so that group norm sees each clip
    alone, as in a training forward; a clip's frames beyond its own length are padding."""
    inputs = normalised_batch(extractor, waveforms)
    cnn = feature_encoder(model)
    device = next(cnn.parameters()).device
    if independence is not None:
        independence.mask = inputs["attention_mask"].to(device)
    try:
        return cnn(inputs["input_values"].to(device))
    finally:
        if independence is not None:
            independence.mask = None


def group_norm_first_layer(cnn: nn.Module) -> nn.Module | None:
    """wav2vec2-base's CNN layout (a GroupNorm in the first conv layer only), else None."""
    layers = list(cnn.conv_layers)
    norm = getattr(layers[0], "layer_norm", None)
    later = any(isinstance(m, nn.GroupNorm) for layer in layers[1:] for m in layer.modules())
    return layers[0] if isinstance(norm, nn.GroupNorm) and not later else None


@torch.no_grad()
def masked_cnn_outputs(cnn: nn.Module, extractor, waveforms: list[np.ndarray]) -> torch.Tensor:
    """`cnn_outputs` for a group-norm CNN in one call per layer: the first layer's group norm
    takes its statistics over each clip's own frames (a mask), not over the padded batch.

    Why: `exact_forward` runs that first layer one clip at a time, and those per-clip calls
    cost 3x the whole padded CNN on CPU (BENCHMARKS.md). A conv's real output frames read only
    the clip's own samples, so one padded conv, per-clip statistics, then the later layers on
    the padded batch give each clip's real frames as the clip alone does (to float rounding)."""
    inputs = normalised_batch(extractor, waveforms)
    layers = list(cnn.conv_layers)
    first = layers[0]
    device = next(cnn.parameters()).device
    hidden = first.conv(inputs["input_values"].to(device)[:, None])
    samples = inputs["attention_mask"].sum(-1).to(device)
    kernel, stride = first.conv.kernel_size[0], first.conv.stride[0]
    frames = torch.div(samples - kernel, stride, rounding_mode="floor") + 1
    norm = first.layer_norm
    batch, channels, length = hidden.shape
    grouped = hidden.float().reshape(batch, norm.num_groups, -1, length)
    real = (torch.arange(length, device=device)[None, :] < frames[:, None]).float()
    count = (frames * (channels // norm.num_groups)).float()[:, None]
    # Two passes as GroupNorm takes them (mean, then the centred squares); the sums over time
    # are matrix products with the mask, one pass each.
    mean = torch.einsum("bgcl,bl->bg", grouped, real) / count
    centered = (grouped - mean[:, :, None, None]) * real[:, None, None, :]
    variance = torch.einsum("bgcl,bgcl->bg", centered, centered) / count
    # Normalise and apply the affine in one multiply-add per value (scale and shift per channel).
    scale = torch.rsqrt(variance + norm.eps)[:, :, None].expand(-1, -1, channels // norm.num_groups)
    scale = scale.reshape(batch, channels)
    shift = -mean[:, :, None].expand(-1, -1, channels // norm.num_groups).reshape(batch, channels)
    shift = shift * scale
    if norm.affine:
        scale, shift = scale * norm.weight, shift * norm.weight + norm.bias
    normalised = torch.addcmul(shift[:, :, None], hidden.float(), scale[:, :, None])
    hidden = first.activation(normalised.to(hidden.dtype))
    for layer in layers[1:]:
        hidden = layer(hidden)
    return hidden


def build_cache(
    model: nn.Module,
    extractor,
    clips: list[tuple[object, np.ndarray]],
    cacheable: np.ndarray,
    plan: StoragePlan,
    folder: Path,
    autocast,
    batch_size: int = 8,
) -> CnnFeatureCache:
    """Compute and keep the CNN output of every clip marked `cacheable`. `clips`: per split, its
    numpy-format audio view and its clips' sample counts (numbered one split after another);
    `batch_size` clips at a time in length order, each batch under the training's `autocast()`
    (so bf16 runs cache what their training forward computed)."""
    cnn = feature_encoder(model)
    channels = model.config.conv_dim[-1]
    cache = CnnFeatureCache(model.config, channels, plan)
    first = 0
    for view, samples in clips:
        cache._audio.append((first, view))
        first += len(samples)
    cache.samples = np.concatenate([samples for _, samples in clips]).astype(np.int64)
    cache.cached = np.asarray(cacheable, dtype=bool)
    cache.frames = np.where(cache.cached, frame_counts(model.config, cache.samples), 0)
    cache.offsets = np.concatenate([[0], np.cumsum(cache.frames)])
    cache.values = _allocate(plan, folder, (int(cache.offsets[-1]), channels))
    # Length order: little padding per batch. The batch runs as training runs it
    # (`exact_forward`: group norm per clip), so each clip's real frames are its own.
    order = sorted(np.flatnonzero(cache.cached).tolist(), key=lambda clip: cache.samples[clip])
    independence = make_batch_independent(model)
    first_norm = group_norm_first_layer(cnn) if independence is not None else None
    was_training = cnn.training
    cnn.eval()
    try:
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            waveforms = [cache.audio(clip) for clip in batch]
            if any(len(w) != cache.samples[c] for w, c in zip(waveforms, batch, strict=True)):
                raise ValueError(
                    "the prepared data's `length` column disagrees with its audio; "
                    "prepare the dataset again"
                )
            with autocast():
                if first_norm is not None:
                    outputs = masked_cnn_outputs(cnn, extractor, waveforms)
                else:
                    outputs = cnn_outputs(model, extractor, waveforms, independence)
            outputs = outputs.float().transpose(1, 2).cpu().numpy()
            for clip, output in zip(batch, outputs, strict=True):
                cache.values[cache.offsets[clip] : cache.offsets[clip + 1]] = output[
                    : cache.frames[clip]
                ]
    finally:
        cnn.train(was_training)
    return cache


class CachedFeaturesPassThrough:
    """Makes the model's CNN return a 3-D `input_values` (cached features) as it is and run as
    before on audio (2-D); `remove()` restores the stock forward. Nothing of it is saved."""

    def __init__(self, model: nn.Module):
        self.cnn = feature_encoder(model)
        self._own_forward = self.cnn.__dict__.get("forward")  # exact_forward's, if installed
        self._forward = self.cnn.forward
        self.cnn.forward = self._pass_through

    def _pass_through(self, input_values: torch.Tensor) -> torch.Tensor:
        if input_values.dim() == 3:
            weight = next(self.cnn.parameters())
            return input_values.to(weight.dtype)
        return self._forward(input_values)

    def remove(self) -> None:
        if self._own_forward is None:
            del self.cnn.forward
        else:
            self.cnn.forward = self._own_forward


def pass_cached_features(model: nn.Module) -> CachedFeaturesPassThrough:
    """Install the pass-through once (idempotent) on `model`'s CNN."""
    cnn = feature_encoder(model)
    existing = getattr(cnn, "_cached_features_pass_through", None)
    if existing is None:
        existing = CachedFeaturesPassThrough(model)
        cnn._cached_features_pass_through = existing
    return existing


def fill_live_features(model: nn.Module, inputs: dict, autocast) -> dict:
    """Compute the CNN output of the batch's clips that are not cached (random crops, all
    `max_train_seconds` long: one call) and put it into their rows of the cached features.
    Clips of other lengths run one length at a time, unpadded, as `exact_forward` runs them."""
    audio = inputs.pop(LIVE_AUDIO, None)
    rows = inputs.pop(LIVE_ROWS, None)
    lengths = inputs.pop(LIVE_LENGTHS, None)
    if audio is None or len(rows) == 0:
        return inputs
    cnn = feature_encoder(model)
    features = inputs["input_values"]
    for length in torch.unique(lengths).tolist():
        chosen = (lengths == length).nonzero().flatten()
        with torch.no_grad(), autocast():
            live = cnn(audio[chosen, :length])
        features[rows[chosen], :, : live.shape[-1]] = live.to(features.dtype)
    return inputs
