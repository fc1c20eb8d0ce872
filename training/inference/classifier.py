"""`EmotionClassifier`: a trained emotion classifier loaded once, answering for arrays and files.

    from training.inference import EmotionClassifier

    classifier = EmotionClassifier.from_pretrained("runs/small")
    classifier.classify_file("clip.wav")["emotion"]
    classifier.classify(samples, sampling_rate=44_100)
    classifier.timeline("interview.wav", smooth=3)["timeline"]["segments"]

It is the one path from audio to probabilities: ser-predict, ser-evaluate's cross-corpus scoring
and the export's ONNX and int8 checks call it. A clip no longer than what the model was trained
on (training.model.window_facts.trained_clip_seconds) is scored whole, as evaluation scored it,
so it gets the answer test_predictions.csv holds; only a longer recording is cut into windows
whose probabilities are averaged. The voice-activity detector never overrules the model on a
clip scored whole: such a clip is `no speech` only when the detector hears nothing in it.
Every answer is a plain dict (training.inference.file_answer), the fields ser-predict --json
writes. A regression or multitask model (training.model.task_outputs) is scored the same way:
its answers and windows add their target `values` (training.inference.output_scores).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from data_scripts.common.audio_spans import SpanDecoder
from training.inference.audio_io import ArraySource, samples_at_rate
from training.inference.choices import BACKENDS, DEFAULT_BATCH_SIZE
from training.inference.file_answer import file_result
from training.inference.onnx_backend import OnnxScorer
from training.inference.output_scores import is_speech, target_ranges
from training.inference.scoring import DTYPES, Scorer
from training.inference.timeline import (
    segments,
    smooth_values,
    smoothed_labels,
    whole_file_scores,
    window_row,
)
from training.inference.vad import MIN_SPEECH_FRACTION, make_vad
from training.inference.windows import score_partly_spoken, score_windows, window_scores
from training.model.window_facts import HOP_FRACTION, default_windows, trained_clip_seconds

logger = logging.getLogger(__name__)


class ClassifierLoadError(ValueError):
    """A folder that cannot serve as an emotion classifier; the one-line message names the
    folder and what to do (not a classifier, NaN weights, a pickle, no ONNX file, ...)."""


def _check_folder(model_dir: Path) -> None:
    """Refusals that need no model loading: no folder, a cross-validation folder, a run that
    has not saved its model yet, a folder without config.json."""
    if not model_dir.is_dir():
        raise ClassifierLoadError(f"--model_dir {model_dir}: no such folder")
    if (model_dir / "config.json").is_file():
        return
    folds = sorted(p.name for p in model_dir.glob("fold_*") if p.is_dir())
    if folds:
        raise ClassifierLoadError(
            f"--model_dir {model_dir}: a cross-validation folder holds one model per fold; "
            f"give one fold's folder, e.g. {model_dir / folds[0]}"
        )
    if any(model_dir.glob("checkpoint-*")):
        raise ClassifierLoadError(
            f"--model_dir {model_dir}: an unfinished training run (no config.json yet): let it "
            "finish, or resume it with --resume_from_checkpoint true"
        )
    raise ClassifierLoadError(f"--model_dir {model_dir} is not a model directory (no config.json)")


class EmotionClassifier:
    """A saved audio classifier with its feature extractor, decode settings and window facts.

    Attributes: labels (the class names; none for a regression model), targets (the names of
    the continuous targets, e.g. arousal; none for a classifier), task ("classification",
    "regression" or "multitask"), target_ranges ({target: [min, max]} of the training corpus,
    for display; {} when not recorded), layout (training.model.task_outputs.OutputLayout),
    sampling_rate, window_seconds and hop_seconds (the default windows of long recordings and
    timelines), window_source (where they came from), trained_seconds (the longest clip scored
    whole; None when the model does not record it), model_dir, backend, device, batch_size.
    """

    def __init__(self, scorer, model_dir: Path, backend: str, batch_size: int):
        self._scorer = scorer
        self.model_dir = str(model_dir)
        self.backend = backend
        self.batch_size = batch_size
        self.device = str(scorer.device)
        self.layout = scorer.layout
        self.labels: list[str] = list(self.layout.classes)
        self.targets: list[str] = list(self.layout.targets)
        self.task: str = self.layout.task
        self.target_ranges: dict[str, list[float]] = target_ranges(model_dir, self.targets)
        self.sampling_rate: int = int(scorer.sampling_rate)
        self.decode_settings = scorer.decode_settings
        windows = default_windows(model_dir)
        self.window_seconds: float = windows.window_seconds
        self.hop_seconds: float = windows.hop_seconds
        self.window_source: str = windows.source
        self.trained_seconds: float | None = trained_clip_seconds(model_dir)
        self._detectors: dict[str, object] = {}

    @classmethod
    def from_pretrained(
        cls,
        model_dir: str | Path,
        backend: str = "pytorch",
        onnx_file: str | None = None,
        device: str = "auto",
        dtype: str = "float32",
        batch_size: int = DEFAULT_BATCH_SIZE,
    ) -> EmotionClassifier:
        """Load a training run's folder, a cross-validation fold's folder, an export, or any
        `save_pretrained` audio-classification folder; `backend="onnxruntime"` runs its
        model.onnx (or `onnx_file`, e.g. model.int8.onnx) on the CPU.

        Raises ClassifierLoadError (a ValueError) with one line naming the folder and what to do.
        """
        if backend not in BACKENDS:
            raise ClassifierLoadError(f"--backend {backend}: choose one of {', '.join(BACKENDS)}")
        if batch_size < 1:
            raise ClassifierLoadError(f"--batch_size must be at least 1, got {batch_size}")
        if dtype not in DTYPES:
            raise ClassifierLoadError(f"--dtype {dtype}: choose one of {', '.join(DTYPES)}")
        model_dir = Path(model_dir)
        _check_folder(model_dir)
        try:
            if backend == "onnxruntime":  # the ONNX export (training.inference.onnx_backend)
                if dtype != "float32":
                    raise ValueError(f"--dtype {dtype}: --backend onnxruntime runs the file as is")
                scorer = OnnxScorer(model_dir, onnx_file, device)
            else:
                if onnx_file:
                    raise ValueError(f"--onnx_file {onnx_file}: needs --backend onnxruntime")
                scorer = Scorer(model_dir, device, dtype)
        except ClassifierLoadError:
            raise
        except ValueError as error:
            raise ClassifierLoadError(str(error)) from error
        except OSError as error:  # transformers' loaders: a missing or unreadable file
            reason = " ".join(str(error).split())
            raise ClassifierLoadError(f"{model_dir}: cannot load the model ({reason})") from error
        return cls(scorer, model_dir, backend, batch_size)

    @property
    def onnx_file(self) -> Path | None:
        """The ONNX file scored (absolute, resolved inside the model folder); None for PyTorch."""
        return getattr(self._scorer, "onnx_file", None)

    def too_short(self, num_samples: int) -> bool:
        """True when the model's encoder yields no frame for this many samples at its rate."""
        return self._scorer.too_short(num_samples)

    def probabilities(self, clips: Sequence[np.ndarray]) -> np.ndarray:
        """Class probabilities (float32, one row per clip, columns in `labels` order) of whole
        mono clips already at `sampling_rate`: no windows, no voice-activity detection.

        Clips are batched by length and each gets what it gets alone (scoring.Scorer), whatever
        its batch mates. ValueError for a clip too short for the model or a non-finite score,
        and for a regression model, which has no classes (see `values`)."""
        if not self.layout.has_classes:
            raise ValueError(
                f"{self.model_dir} is a regression model: it gives values of "
                f"{', '.join(self.targets)}, not class probabilities (use values or scores)"
            )
        return self.scores(clips)[:, self.layout.class_slice]

    def values(self, clips: Sequence[np.ndarray]) -> np.ndarray:
        """Target values in the user's units (float32, one row per clip, columns in `targets`
        order) of whole mono clips at `sampling_rate`, as `probabilities` scores them; ValueError
        for a model without targets."""
        if not self.layout.has_targets:
            raise ValueError(f"{self.model_dir} is a classifier: it has no target values")
        return self.scores(clips)[:, self.layout.target_slice]

    def scores(self, clips: Sequence[np.ndarray]) -> np.ndarray:
        """Score rows of whole mono clips at `sampling_rate`: the class probabilities (softmax
        over the class outputs only), then the target values (training.inference.output_scores);
        what every answer is built from. Batched as `probabilities` says."""
        result = np.zeros((len(clips), self.layout.num_outputs), dtype=np.float32)
        for index, clip in enumerate(clips):
            if self.too_short(len(clip)):
                raise ValueError(
                    f"clip {index}: too short for the model ({len(clip)} samples at "
                    f"{self.sampling_rate} Hz)"
                )
        order = np.argsort([len(clip) for clip in clips], kind="stable")
        for first in range(0, len(order), self.batch_size):
            rows = order[first : first + self.batch_size]
            batch = [np.asarray(clips[i], dtype=np.float32) for i in rows]
            result[rows] = window_scores(self._scorer, batch)
        return result

    def classify(self, audio, sampling_rate: int, *, vad: str = "silero") -> dict | list[dict]:
        """The answer for a 1-D array (samples) or 2-D array (samples x channels, or channels x
        samples for at most 16 rows) at any `sampling_rate`, or a list of answers for a list of
        arrays; the answers do not depend on the list's other clips. `vad="none"` scores every
        clip without asking the voice-activity detector."""
        single = not isinstance(audio, (list, tuple))
        arrays = [audio] if single else list(audio)
        names = ["the clip"] if single else [f"clip {i}" for i in range(len(arrays))]
        sources = [
            ArraySource(samples_at_rate(a, sampling_rate, self.decode_settings, name), name)
            for a, name in zip(arrays, names, strict=True)
        ]
        results = self._answers(sources, [None] * len(sources), vad)
        return results[0] if single else results

    def classify_file(
        self,
        path: str | Path,
        *,
        vad: str = "silero",
        window_seconds: float | None = None,
        hop_seconds: float | None = None,
        progress: tqdm | None = None,
    ) -> dict:
        """The answer for an audio file (any format libsndfile reads), decoded with the settings
        saved with the model; a recording longer than the training clips is averaged over
        windows (default `window_seconds`/`hop_seconds`). ValueError naming the file when it
        cannot be decoded or scored. `progress`: a tqdm bar counting seconds of audio."""
        window_seconds, hop_seconds = self._window_lengths(window_seconds, hop_seconds, 1)
        options = dict(window_seconds=window_seconds, hop_seconds=hop_seconds, progress=progress)
        name = str(path)
        with SpanDecoder(path, self.decode_settings) as decoder:
            return _named(name, lambda: self._answers([decoder], [name], vad, **options)[0])

    def timeline(
        self,
        path_or_array,
        window_seconds: float | None = None,
        hop_seconds: float | None = None,
        vad: str = "silero",
        smooth: int = 1,
        *,
        sampling_rate: int | None = None,
        progress: tqdm | None = None,
    ) -> dict:
        """The answer with a `timeline`: windows (each with its emotion, `silence` without
        speech) and segments of adjacent windows with one label after a running median over
        `smooth` windows (odd; 1 = off). An array needs its `sampling_rate`. Windows default to
        `window_seconds`/`hop_seconds`; `progress` is a tqdm bar counting seconds of audio."""
        window_seconds, hop_seconds = self._window_lengths(window_seconds, hop_seconds, smooth)
        options = dict(window_seconds=window_seconds, hop_seconds=hop_seconds, smooth=smooth,
                       with_timeline=True, progress=progress)  # fmt: skip
        if isinstance(path_or_array, (str, Path)):
            with SpanDecoder(path_or_array, self.decode_settings) as decoder:
                name = str(path_or_array)
                return _named(name, lambda: self._answers([decoder], [name], vad, **options)[0])
        if sampling_rate is None:
            raise ValueError("timeline of an array: give its sampling_rate")
        samples = samples_at_rate(path_or_array, sampling_rate, self.decode_settings, "the clip")
        return self._answers([ArraySource(samples, "the clip")], [None], vad, **options)[0]

    def _window_lengths(self, window_seconds, hop_seconds, smooth) -> tuple[float, float]:
        if smooth < 1 or smooth % 2 == 0:
            raise ValueError(f"--smooth {smooth}: give an odd number of windows (1 = off)")
        if window_seconds is None:
            window_seconds = self.window_seconds
            hop_seconds = self.hop_seconds if hop_seconds is None else hop_seconds
        if hop_seconds is None:
            hop_seconds = round(window_seconds * HOP_FRACTION, 3)
        if not 0 < hop_seconds <= window_seconds:
            raise ValueError(
                f"need 0 < hop_seconds <= window_seconds, got hop {hop_seconds}, "
                f"window {window_seconds}"
            )
        return float(window_seconds), float(hop_seconds)

    def prepare_vad(self, vad: str = "silero") -> None:
        """Load the voice-activity detector now rather than at the first clip: a ValueError
        (a detector that cannot run at the model's rate; an unknown choice) comes before any
        audio is read, and a server's first request is not slower than the rest."""
        self._detector(vad)

    def _detector(self, vad: str):
        if vad not in self._detectors:
            self._detectors[vad] = make_vad(vad, self.sampling_rate)
        return self._detectors[vad]

    def _answers(
        self,
        sources: list,
        names: list[str | None],
        vad: str,
        window_seconds: float | None = None,
        hop_seconds: float | None = None,
        smooth: int = 1,
        with_timeline: bool = False,
        progress: tqdm | None = None,
    ) -> list[dict]:
        """Each source's answer: whole when no longer than the model's training clips (or than a
        window), else the mean over its speech windows. Whole clips are scored in batches."""
        if window_seconds is None:
            window_seconds, hop_seconds = self._window_lengths(None, None, smooth)
        rate = self.sampling_rate
        window, hop = round(window_seconds * rate), round(hop_seconds * rate)
        longest_whole = round(max(self.trained_seconds or 0.0, window_seconds) * rate)
        detector = self._detector(vad)
        plans = []
        for source in sources:
            base = progress.n if progress is not None else 0.0
            if source.length <= longest_whole:
                plan = self._plan_whole(source, detector, window, with_timeline)
            else:
                plan = {"scored": "windows", "whole": None, "share": None}
            # A clip no longer than one window is its own only window: scored once, above.
            if plan["scored"] == "windows" or (with_timeline and not plan.get("one_window")):
                scores = score_windows(source, self._scorer, detector, window, hop,
                                       self.batch_size, progress)  # fmt: skip
                if plan["scored"] == "windows":
                    plan["share"] = scores.speech_share
                    rows = scores.rows
                    if whole_file_scores(rows, self.layout) is None and scores.heard_frames:
                        score_partly_spoken(source, self._scorer, scores, window)
                plan["rows"] = scores.rows
            plan["duration"] = source.length / rate
            if progress is not None:
                progress.total = max(progress.total or 0, base + plan["duration"])
                progress.n = base + plan["duration"]
                progress.refresh()
            plans.append(plan)
        spoken = [i for i, plan in enumerate(plans) if plan["whole"] is not None]
        scored = self.scores([plans[i]["whole"] for i in spoken]) if spoken else []
        for index, scores in zip(spoken, scored, strict=True):
            plans[index]["scores"] = scores
        return [
            self._result(plan, name, window_seconds, hop_seconds, smooth, with_timeline)
            for plan, name in zip(plans, names, strict=True)
        ]

    def _plan_whole(self, source, detector, window: int, with_timeline: bool) -> dict:
        """A clip scored whole: its samples (None when the detector hears nothing) and share."""
        if self.too_short(source.length):
            raise ValueError(
                f"{source.name}: too short for the model ({source.length} samples at "
                f"{self.sampling_rate} Hz)"
            )
        samples = source.read(0, source.length)
        share = _speech_share(detector, samples)
        plan = {"scored": "whole", "whole": samples if share != 0 else None, "share": share}
        plan["one_window"] = with_timeline and source.length <= window
        return plan

    def _result(self, plan, name, window_seconds, hop_seconds, smooth, with_timeline) -> dict:
        scores = plan.get("scores")
        rows = plan.get("rows")
        if plan["scored"] == "whole":
            averaged, silent = (1, 0) if scores is not None else (0, 1)
            if plan.get("one_window"):  # the timeline's only window: the clip, as the VAD says
                heard = plan["share"] is None or plan["share"] >= MIN_SPEECH_FRACTION
                window = scores if heard else None
                rows = [window_row(0.0, plan["duration"], self.layout, window)]
        else:
            scores = whole_file_scores(rows, self.layout)
            averaged = sum(1 for row in rows if is_speech(row))
            silent = len(rows) - averaged
        result = file_result(name, self.layout, scores, plan["duration"], plan["scored"],
                             averaged, silent, plan["share"])  # fmt: skip
        if with_timeline:
            smooth_values(rows, self.targets, smooth)  # before the segments average them
            result["timeline"] = {
                "window_seconds": window_seconds,
                "hop_seconds": hop_seconds,
                "smooth": smooth,
                "windows": rows,
                "segments": segments(
                    rows,
                    smoothed_labels(rows, self.labels, smooth),
                    plan["duration"],
                    self.targets,
                ),  # fmt: skip
            }
        return result


def _speech_share(detector, samples: np.ndarray) -> float | None:
    """The share of the clip's frames (by their middles) the detector hears as speech, as a
    window's share is measured (vad.SileroVad.speech_fractions); None without a detector."""
    fractions, frames = detector.speech_fractions(samples, [0], len(samples))
    return None if frames is None else float(fractions[0])


def _named(name, work):
    """Run `work`; a ValueError's message starts with the file's name (once)."""
    try:
        return work()
    except ValueError as error:
        message = str(error)
        if message.startswith(f"{name}: "):
            raise
        raise ValueError(f"{name}: {message}") from error
