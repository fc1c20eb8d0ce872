"""The measurements of bench/gpu_check.py, each a function of a model, data and a device.

Everything runs through the project's code: the preset YAMLs parsed by `training.arguments`,
models from `training.model.model_builder`, `training.trainer.emotion_trainer.EmotionTrainer` with
`training.data.batching`'s collator, `training.probing.frozen_features` and predict's scorer.
"""

from __future__ import annotations

import importlib
import pkgutil
import statistics
import time
from pathlib import Path

import datasets
import numpy as np
import pyarrow as pa
import torch
from transformers import TrainerCallback

from data_scripts.corpora.ravdess.facts import EMOTIONS
from training.arguments import parse_arguments
from training.data.batching import AudioClassificationCollator, model_view
from training.model.exact_forward import make_batch_independent
from training.model.model_builder import build_classifier, build_feature_extractor
from training.probing.frozen_features import cached_pooled_features
from training.trainer.emotion_trainer import EmotionTrainer

RATE = 16_000


def clip_dataset(clips: list[np.ndarray]) -> datasets.Dataset:
    """The prepared dataset's model columns (audio struct, label, length), in Arrow."""
    lengths = np.array([len(clip) for clip in clips], dtype=np.int64)
    offsets = pa.array(np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32))
    arrays = pa.ListArray.from_arrays(offsets, pa.array(np.concatenate(clips)))
    rates = pa.array(np.full(len(clips), RATE, dtype=np.int64))
    table = pa.table(
        {
            "audio": pa.StructArray.from_arrays([arrays, rates], names=["array", "sampling_rate"]),
            "label": pa.array(np.arange(len(clips)) % len(EMOTIONS)),
            "length": pa.array(lengths),
        }
    )
    return datasets.Dataset(datasets.table.InMemoryTable(table))


def preset_arguments(preset_yaml: Path, checkpoint: Path, output_dir: Path, flags: list[str]):
    """The preset's (model, data, training) arguments, as the training command parses them."""
    argv = ["--train_config", str(preset_yaml), "--model_path", str(checkpoint)]
    argv += ["--dataset_dir", "unused", "--output_dir", str(output_dir), *flags]
    return parse_arguments(argv)


def preset_model(model_args):
    """The classifier and feature extractor as the training command builds them."""
    model, _ = build_classifier(
        model_args.model_path,
        pooling=model_args.pooling,
        attn_implementation=model_args.attn_implementation,
    )
    if model_args.freeze_feature_encoder:
        model.freeze_feature_encoder()
    extractor, _ = build_feature_extractor(model_args.model_path)
    return model, extractor


def cuda_sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@torch.inference_mode()
def _logits(model, extractor, clips: list[np.ndarray], batch_size: int, dtype) -> torch.Tensor:
    rows = []
    for start in range(0, len(clips), batch_size):
        inputs = extractor(
            clips[start : start + batch_size],
            sampling_rate=RATE,
            padding=True,
            return_attention_mask=True,
            return_tensors="pt",
        )
        values = inputs["input_values"].to(model.device, dtype)
        mask = inputs["attention_mask"].to(model.device)
        rows.append(model(values, attention_mask=mask).logits.float().cpu())
    return torch.cat(rows)


def batch_independence(
    model, extractor, clips, batch_size: int, dtype, tolerance: float, relative: bool = False
) -> dict:
    """Batched logits (clips of mixed lengths, padded) against one clip at a time, exact forward
    on, and the padded forward's difference for comparison. `relative`: the tolerance is a share
    of the largest single-clip logit (random-weight logits are small). Labels are compared on the
    clips whose top-2 margin alone exceeds 2 x tolerance (others may flip within it)."""
    model.to(dtype).eval()
    make_batch_independent(model)
    single = _logits(model, extractor, clips, 1, dtype)
    batched = _logits(model, extractor, clips, batch_size, dtype)
    make_batch_independent(model).remove()
    padded = _logits(model, extractor, clips, batch_size, dtype)
    make_batch_independent(model)
    if relative:
        tolerance = tolerance * float(single.abs().max())
    top2 = single.topk(2, dim=-1).values
    decisive = (top2[:, 0] - top2[:, 1]) > 2 * tolerance
    same = single.argmax(-1) == batched.argmax(-1)
    difference = float((batched - single).abs().max())
    padded_difference = float((padded - single).abs().max())
    return {
        "max_abs_difference": difference,
        "tolerance": tolerance,
        "max_abs_logit": float(single.abs().max()),
        "padded_max_abs_difference": padded_difference,
        "padded_within_tolerance": padded_difference <= tolerance,
        "label_agreement": float(same.float().mean()),
        "decisive_clips": int(decisive.sum()),
        "decisive_labels_agree": bool(same[decisive].all()),
        "passed": difference <= tolerance and bool(same[decisive].all()),
    }


class _TimedIterator:
    """Wraps the Trainer's epoch iterator: seconds spent in next() and real samples delivered."""

    def __init__(self, inner, clock: StepClock):
        self.inner, self.clock = inner, clock

    def __iter__(self):
        return self

    def __next__(self):
        start = time.perf_counter()
        batch = next(self.inner)
        self.clock.wait_seconds += time.perf_counter() - start
        self.clock.lengths += batch["attention_mask"].sum(-1).tolist()
        return batch


class TimedTrainer(EmotionTrainer):
    """The project's Trainer, its batches fetched through a `_TimedIterator`."""

    def __init__(self, *args, clock: StepClock, **kwargs):
        super().__init__(*args, **kwargs)
        self.clock = clock
        self.add_callback(clock)

    def get_batch_samples(self, epoch_iterator, num_batches, device):
        timed = _TimedIterator(epoch_iterator, self.clock)
        return super().get_batch_samples(timed, num_batches, device)


class StepClock(TrainerCallback):
    """Starts timing after `warmup_steps` optimizer steps and stops training `budget` seconds
    later (or at the epoch's end)."""

    def __init__(self, warmup_steps: int, budget: float, device: torch.device):
        self.warmup_steps, self.budget, self.device = warmup_steps, budget, device
        self.start = self.end = None
        self.steps = 0
        self._reset()

    def _reset(self):
        self.wait_seconds, self.lengths = 0.0, []

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == self.warmup_steps:
            cuda_sync(self.device)
            self.start = time.perf_counter()
            self._reset()
        elif self.start is not None and time.perf_counter() - self.start >= self.budget:
            control.should_training_stop = True

    def on_train_end(self, args, state, control, **kwargs):
        cuda_sync(self.device)
        self.end = time.perf_counter()
        self.steps = state.global_step - self.warmup_steps


def train_throughput(model, extractor, arguments, dataset, clock: StepClock):
    """Train on `dataset` with the preset's settings until the clock stops it; the trainer and
    samples/s, audio seconds/s, data-wait share, peak GPU memory and the clip lengths (samples)
    of the timed steps."""
    model_args, data_args, training_args = arguments
    trainer = TimedTrainer(
        model=model,
        args=training_args,
        data_collator=AudioClassificationCollator(
            extractor, data_args.max_train_seconds, random_crop=True
        ),
        eval_data_collator=AudioClassificationCollator(extractor),
        train_dataset=model_view(dataset),
        processing_class=extractor,
        encoder_learning_rate=model_args.encoder_learning_rate,
        clock=clock,
    )
    if clock.device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(clock.device)
    trainer.train()
    if clock.start is None or clock.steps < 1:
        raise RuntimeError(f"training ended within its {clock.warmup_steps} warm-up steps")
    seconds = clock.end - clock.start
    peak = torch.cuda.max_memory_allocated(clock.device) if clock.device.type == "cuda" else None
    return (
        trainer,
        {
            "timed_steps": clock.steps,
            "timed_seconds": seconds,
            "seconds_per_step": seconds / clock.steps,
            "samples_per_second": len(clock.lengths) / seconds,
            "audio_seconds_per_second": sum(clock.lengths) / RATE / seconds,
            "data_wait_share": clock.wait_seconds / seconds,
            "peak_gpu_memory_bytes": peak,
        },
        clock.lengths,
    )


def step_seconds(trainer, repeats: int) -> dict:
    """Forward + backward of one length-grouped training batch, exact forward against padded
    (the per-clip CNN layer removed), interleaved; medians over `repeats`."""
    model = trainer.model.train()
    batch = next(iter(trainer.get_train_dataloader()))
    batch = {name: value.to(model.device) for name, value in batch.items()}
    autocast = torch.autocast(model.device.type, torch.bfloat16, enabled=trainer.args.bf16)
    times: dict[str, list[float]] = {"exact": [], "padded": []}
    for _ in range(repeats + 1):  # the first round warms up
        for variant in times:
            installed = make_batch_independent(model)
            if variant == "padded":
                installed.remove()
            cuda_sync(model.device)
            start = time.perf_counter()
            with autocast:
                loss = model(**batch).loss
            loss.backward()
            cuda_sync(model.device)
            times[variant].append(time.perf_counter() - start)
            model.zero_grad(set_to_none=True)
    make_batch_independent(model)
    exact, padded = (statistics.median(times[v][1:]) for v in ("exact", "padded"))
    return {
        "batch_clips": len(batch["labels"]),
        "exact_seconds": exact,
        "padded_seconds": padded,
        "exact_cost_share_of_step": (exact - padded) / exact,
    }


def evaluation_rate(trainer, dataset: datasets.Dataset) -> float:
    """Clips/s of the Trainer's evaluation on rows in length order, as training evaluates."""
    ordered = dataset.select(np.argsort(np.asarray(dataset["length"]), kind="stable"))
    view = model_view(ordered)
    trainer.predict(view)  # warm-up: kernels for these shapes
    cuda_sync(trainer.args.device)
    start = time.perf_counter()
    trainer.predict(view)
    cuda_sync(trainer.args.device)
    return len(dataset) / (time.perf_counter() - start)


def cache_build_rate(model, extractor, dataset, cache_dir: Path, device, batch_size: int) -> dict:
    """The probe's frozen-feature cache built afresh: clips/s, hashing and Arrow writes included."""
    model.to(device)
    start = time.perf_counter()
    cached = cached_pooled_features(model, extractor, dataset, cache_dir, device, batch_size)
    cuda_sync(torch.device(device))
    seconds = time.perf_counter() - start
    if cached.computed_now != len(dataset):
        raise RuntimeError(f"{cache_dir}: only {cached.computed_now} clips were computed")
    return {"clips": len(dataset), "seconds": seconds, "clips_per_second": len(dataset) / seconds}


class DirectScorer:
    """What predict's scorer does, for when it cannot be imported: the saved model with the
    exact forward, padded batches with the extractor's mask, softmax."""

    def __init__(self, model_dir: Path, device: str, dtype: str):
        from transformers import AutoFeatureExtractor, AutoModelForAudioClassification

        self.dtype = getattr(torch, dtype)
        self.device = torch.device(device)
        self.feature_extractor = AutoFeatureExtractor.from_pretrained(model_dir)
        self.model = AutoModelForAudioClassification.from_pretrained(model_dir, dtype=self.dtype)
        self.model.to(self.device).eval()
        make_batch_independent(self.model)

    @torch.inference_mode()
    def probabilities(self, arrays: list[np.ndarray]) -> np.ndarray:
        inputs = self.feature_extractor(
            arrays,
            sampling_rate=RATE,
            padding=True,
            return_attention_mask=True,
            return_tensors="pt",
        )
        values = inputs["input_values"].to(self.device, self.dtype)
        mask = inputs["attention_mask"].to(self.device)
        logits = self.model(values, attention_mask=mask).logits
        return torch.softmax(logits.float(), dim=-1).cpu().numpy()


def find_scorer() -> tuple[type, str]:
    """Predict's scorer class wherever training.inference keeps it (predict.py is being split),
    else `DirectScorer`; and where it came from."""
    import training.inference as inference

    names = ["training.inference.predict"]
    names += [f"training.inference.{m.name}" for m in pkgutil.iter_modules(inference.__path__)]
    for name in dict.fromkeys(names):
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        for attribute in ("_Scorer", "Scorer"):
            found = getattr(module, attribute, None)
            if isinstance(found, type) and hasattr(found, "probabilities"):
                return found, f"{name}.{attribute}"
    return DirectScorer, "bench/gpu_check_parts.py DirectScorer (predict's scorer not found)"


def predict_rate(scorer, clips: list[np.ndarray], batch_size: int) -> float:
    """Clips/s of the scorer on length-sorted batches, as predict orders them (decoding apart)."""
    ordered = sorted(clips, key=len, reverse=True)
    scorer.probabilities(ordered[:batch_size])  # warm-up
    cuda_sync(scorer.device)
    start = time.perf_counter()
    for begin in range(0, len(ordered), batch_size):
        probabilities = scorer.probabilities(ordered[begin : begin + batch_size])
        if not np.isfinite(probabilities).all():
            raise RuntimeError("predict's scorer returned non-finite probabilities")
    cuda_sync(scorer.device)
    return len(clips) / (time.perf_counter() - start)
