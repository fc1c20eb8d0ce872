"""`ser-stream MODEL_DIR [--input mic|-|FILE]`: emotions of live audio, one JSON line per window
as soon as the window is heard and scored.

    arecord -f S16_LE -r 16000 -c 1 | ser-stream MODEL -
    ffmpeg -i URL -f s16le -ac 1 -ar 16000 - | ser-stream MODEL -

Each line holds start_s, end_s, emotion (`silence` where the voice-activity detector hears no
speech, as in predict), probability and every class's probability, and for a model with
continuous targets their `values` (a regression model's emotion is null); they are the windows that
`ser-predict --timeline` gives the same recording (training.serving.live_windows). The last
partial window is scored when the stream ends; Ctrl-C ends it the same way. A one-line summary
goes to standard error. Exit code: 0 (also for an empty stream: "no audio"), 1 when the audio
cannot be read or scored, 2 for a usage error.
"""

from __future__ import annotations

import collections
import json
import logging
import sys
import time
from pathlib import Path

from data_scripts.common.command_logging import setup_logging
from data_scripts.common.command_options import CommandParser
from training.model.window_facts import HOP_FRACTION
from training.serving.serving_options import StreamOptions

logger = logging.getLogger(__name__)
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def build_parser() -> CommandParser:
    return CommandParser(
        StreamOptions,
        prog="ser-stream",
        description="Emotions of live audio (microphone, standard input or a file), one JSON "
        "line per window\nas soon as it is scored.",
    )


def parse_options(argv: list[str] | None = None) -> tuple[StreamOptions, bool]:
    """(the options, --debug); the input from SOURCE or --input (not two different ones)."""
    parser = build_parser()
    args, debug = parser.parse_command(argv)
    if args.source and args.input and args.source != args.input:
        parser.error(f"input given twice: {args.source} and --input {args.input}")
    args.input = args.source or args.input or "mic"
    return args, debug


def _windows(args: StreamOptions, classifier) -> tuple[int, int]:
    """predict's windows: the model's own (training.model.window_facts) unless given."""
    rate = classifier.sampling_rate
    window_seconds, hop_seconds = args.window_seconds, args.hop_seconds
    if window_seconds is None:
        window_seconds = classifier.window_seconds
        hop_seconds = hop_seconds or classifier.hop_seconds
    hop_seconds = hop_seconds or round(window_seconds * HOP_FRACTION, 3)
    if not 0 < hop_seconds <= window_seconds:
        raise ValueError(f"need 0 < --hop_seconds <= --window_seconds, got {hop_seconds}, "
                         f"{window_seconds}")  # fmt: skip
    return round(window_seconds * rate), round(hop_seconds * rate)


def _pieces(args: StreamOptions, settings, rate: int):
    """The chosen input as an iterator of sample pieces at the model's rate."""
    from training.serving.audio_input import PcmDecoder, file_pieces, microphone_pieces, raw_pieces

    if args.input == "mic":
        return microphone_pieces(settings)
    raw = dict(sample_format=args.format, rate=args.sample_rate or rate,
               channels=args.channels, settings=settings)  # fmt: skip
    if args.input == "-":
        return raw_pieces(sys.stdin.buffer.fileno(), PcmDecoder(**raw))
    path = Path(args.input)
    if not path.exists():
        raise ValueError(f"--input {path}: no such file")
    if path.is_file() and _is_audio_file(path):
        return file_pieces(str(path), settings)
    handle = open(path, "rb")  # noqa: SIM115 - a FIFO or raw file, open for the whole stream
    return raw_pieces(handle.fileno(), PcmDecoder(**raw, name=str(path)))


def _is_audio_file(path: Path) -> bool:
    import soundfile

    try:
        soundfile.info(str(path))
    except (soundfile.LibsndfileError, RuntimeError):
        return False
    return True


class Summary:
    """Counts for the closing line."""

    def __init__(self):
        self.windows = 0
        self.emotions: collections.Counter[str] = collections.Counter()
        self.end_s = 0.0
        self.values: dict[str, list[float]] = {}

    def add(self, row: dict) -> None:
        self.windows += 1
        self.emotions[row["emotion"]] += 1
        self.end_s = max(self.end_s, row["end_s"])
        for target, value in (row.get("values") or {}).items():
            self.values.setdefault(target, []).append(value)

    def line(self, interrupted: bool) -> str:
        if not self.windows:
            return "ser-stream: no audio"
        spoken = {k: v for k, v in self.emotions.items() if k not in ("silence", None)}
        most = max(spoken, key=spoken.get) if spoken else "no speech"
        how = "stopped" if interrupted else "stream ended"
        line = (f"ser-stream: {how}: {self.windows} windows over {self.end_s:.1f} s "
                f"({self.emotions.get('silence', 0)} silence)")  # fmt: skip
        if spoken or not self.values:  # a model with classes, or nothing heard
            line += f"; most often: {most}"
        if self.values:  # the mean of each target's value over the speech windows
            line += "; mean " + ", ".join(
                f"{t} {sum(v) / len(v):.3f}" for t, v in self.values.items()
            )
        return line


def _print(row: dict) -> None:
    print(json.dumps(row), flush=True)


def run(args: StreamOptions) -> int:
    from training.inference.vad import make_vad
    from training.serving.live_windows import LiveWindows
    from training.serving.model_loading import load_classifier

    classifier = load_classifier(
        args.model_dir, args.backend, args.onnx_file, args.device, args.vad
    )
    rate = classifier.sampling_rate
    window, hop = _windows(args, classifier)
    live = LiveWindows(classifier, make_vad(args.vad, rate), window, hop)
    pieces = _pieces(args, classifier.decode_settings, rate)
    source = {"mic": "the microphone", "-": "standard input"}.get(args.input, args.input)
    print(f"ser-stream: listening to {source}: windows of {window / rate:g} s every "
          f"{hop / rate:g} s; Ctrl-C stops", file=sys.stderr, flush=True)  # fmt: skip
    summary, interrupted = Summary(), False
    started = time.monotonic()
    try:
        for piece in pieces:
            for row in live.feed(piece):
                _print(row)
                summary.add(row)
    except KeyboardInterrupt:
        interrupted = True
    for row in live.finish():
        _print(row)
        summary.add(row)
    logger.debug("%.1f s of audio in %.1f s", live.total / rate,
                 time.monotonic() - started)  # fmt: skip
    print(summary.line(interrupted), file=sys.stderr)
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    args, debug = parse_options(argv)
    # Warnings only: standard output carries the windows' JSON lines and standard error the
    # one-line summary; info lines would bury it.
    setup_logging(debug, logging.WARNING)
    from training.inference.classifier import ClassifierLoadError  # the model stack, after parsing

    try:
        return run(args)
    except KeyboardInterrupt:
        print("ser-stream: stopped before any audio", file=sys.stderr)
        return EXIT_OK
    except ClassifierLoadError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:  # the reader went away (`| head`): nothing left to tell
        return EXIT_OK
    except (ValueError, OSError) as error:
        if debug:
            logger.exception("traceback")
        print(f"error: {error}", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
