"""`make demo`: the whole product end to end on an offline sample, in a few minutes on a CPU.

Every step runs the same command a user runs on real data (printed before it runs):
sample archives -> download from a local HTTP mirror -> Arrow cache -> stand-in fine-tuned
CTC checkpoint -> `accelerate launch` training on held-out speakers -> predict -> export (ONNX,
int8) -> predict with onnxruntime.
"""

from __future__ import annotations

import functools
import http.server
import shlex
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from data_scripts.common.command_logging import setup_logging
from data_scripts.common.command_options import CommandParser

REPO = Path(__file__).resolve().parents[2]
DEMO_ACTORS = "1-8"  # 4 train, 2 validation, 2 test actors under the speaker split


def _run(command: list[str], log: list[tuple[str, float]]) -> None:
    print(f"\n$ {shlex.join(command)}", flush=True)
    start = time.perf_counter()
    subprocess.run(command, check=True, cwd=REPO)
    log.append((shlex.join(command), time.perf_counter() - start))


def _serve(directory: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    """A local mirror of the two archives on 127.0.0.1 (stands in for Zenodo)."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(directory))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def run_demo(output_dir: Path, epochs: int | None = None) -> None:
    python = sys.executable
    output_dir = output_dir.resolve()
    archives, data, prepared = output_dir / "archives", output_dir / "data", output_dir / "prepared"
    checkpoint, model = output_dir / "checkpoint", output_dir / "model"
    log: list[tuple[str, float]] = []
    started = time.perf_counter()

    _run(
        [
            python,
            "-m",
            "data_scripts.sample_archives",
            "--output_dir",
            str(archives),
            "--actors",
            DEMO_ACTORS,
        ],
        log,
    )
    server, url = _serve(archives)
    try:
        _run(
            [
                python,
                "data_scripts/download_and_map_emotion_data.py",
                "--data_dir",
                str(data),
                "--base_url",
                url,
                "--no_verify",  # the sample is not the official archives, so their MD5s differ
            ],
            log,
        )
    finally:
        server.shutdown()
    _run(
        [
            python,
            "-m",
            "data_scripts.ravdess",
            "--data_dir",
            str(data),
            "--output_dir",
            str(prepared),
        ],
        log,
    )
    _run(
        [
            python,
            "-m",
            "training.demo.stand_in_checkpoint",
            "--config",
            "configs/models/tiny.json",
            "--output_dir",
            str(checkpoint),
            "--format",
            "bin",
        ],
        log,
    )
    train = [
        python,
        "-m",
        "accelerate.commands.launch",
        "--config_file",
        "configs/accelerate/cpu.yaml",
        "-m",
        "training.wav2vec2_classification",
        "--train_config",
        "configs/training/tiny.yaml",
        "--model_path",
        str(checkpoint / "pytorch_model.bin"),
        "--config_path",
        str(checkpoint / "config.json"),
        "--dataset_dir",
        str(prepared),
        "--output_dir",
        str(model),
    ]
    if epochs:
        train += ["--num_train_epochs", str(epochs)]
    # The run folder's rules come with TrainingArguments (torch): imported when the demo runs,
    # not for its --help.
    from training.run_folder.output_dir import earlier_results

    if model.is_dir() and earlier_results(model):
        # Training refuses a folder holding an earlier run; this one is the demo's own.
        print(f"\nremoving the previous demo run in {model}", flush=True)
        shutil.rmtree(model)
    _run(train, log)
    examples = _test_examples(data, model / "split.json")
    _run(
        [
            python,
            "-m",
            "training.inference.predict",
            "--model_dir",
            str(model),
            "--json",
            str(output_dir / "predictions.json"),
        ]
        + [str(p) for p in examples],
        log,
    )
    _export_and_predict(python, model, data, output_dir, examples[:4], log)
    _summary(output_dir, log, time.perf_counter() - started)


def _export_and_predict(python, model: Path, data: Path, output_dir: Path, examples, log) -> None:
    """Ship the classifier (verified, with ONNX and int8), then predict with onnxruntime."""
    exported = output_dir / "exported"
    _run(
        [python, "-m", "training.inference.export", str(model), str(exported),
         "--onnx", "--quantize", "int8", "--audio_dir", str(data),
         "--overwrite"],  # replaces only the demo's earlier export, never another folder
        log,
    )  # fmt: skip
    _run(
        [python, "-m", "training.inference.predict", "--model_dir", str(exported),
         "--backend", "onnxruntime", "--onnx_file", "model.int8.onnx",
         "--json", str(output_dir / "predictions_int8.json"), *map(str, examples)],
        log,
    )  # fmt: skip


def _test_examples(data: Path, split_json: Path) -> list[Path]:
    """One strong-intensity speech clip per emotion (normal for neutral) of a test actor."""
    import json

    # RAVDESS's speakers are its actors' two-digit numbers.
    actor = int(json.loads(split_json.read_text())["splits"]["test"]["speakers"][0])
    folder = data / "classification_data" / "speech" / f"Actor_{actor:02d}"
    return [
        folder / f"03-01-{emotion:02d}-{1 if emotion == 1 else 2:02d}-01-01-{actor:02d}.wav"
        for emotion in range(1, 9)
    ]


def _summary(output_dir: Path, log: list[tuple[str, float]], total: float) -> None:
    import json

    test = json.loads((output_dir / "model" / "test_results.json").read_text())
    print("\n" + "=" * 72)
    print(f"Demo finished in {total:.0f} s.")
    for command, seconds in log:
        print(f"  {seconds:6.1f} s  {command.split(' -m ')[-1][:80]}")
    print(
        f"\nHeld-out speakers (test): accuracy {test['test_accuracy']:.3f}, "
        f"UAR {test['test_uar']:.3f} (chance 0.125) on synthetic voices."
    )
    manifest = json.loads((output_dir / "exported" / "manifest.json").read_text())
    checks = manifest["verification"]
    print(
        f"Export: pipeline matches test_predictions.csv on {checks['pipeline']['clips']} files; "
        f"int8 agrees with float ONNX on {100 * checks['int8']['label_agreement']:.1f} %."
    )
    print(f"""
Where things are ({output_dir}):
  data/emotional_data_mappings.csv   file -> labels
  prepared/                          Arrow dataset (datasets.load_from_disk)
  model/                             the classifier: pipeline("audio-classification", model=...)
  model/README.md                    model card; model/*.png curves and confusion matrix
  model/test_results.json            held-out-speaker metrics; model/split.json the speakers
  model/test_predictions.csv         one row per test file: every test number recomputes from it
  predictions.json                   the predict command's output
  exported/                          the shipped classifier: model, card, results, manifest.json
                                     (SHA-256s; --check), model.onnx and model.int8.onnx
  predictions_int8.json              predict with onnxruntime on exported/model.int8.onnx

Next, with real data (see README.md):
  python data_scripts/download_and_map_emotion_data.py --data_dir data
  python -m training.wav2vec2_classification --train_config configs/training/small.yaml \\
      --model_path YOUR_CHECKPOINT/pytorch_model.bin --config_path YOUR_CHECKPOINT/config.json \\
      --data_dir data --output_dir runs/small
  python -m training.inference.predict --model_dir runs/small your_recordings/
  python -m training.inference.export runs/small exported/small --onnx --quantize int8""")


@dataclass
class DemoOptions:
    """ser-demo's options (flags, or keys of an `--options` file)."""

    output_dir: str = field(
        default="demo_output", metadata={"help": "where every step writes its files"}
    )
    epochs: int | None = field(default=None, metadata={"help": "override the tiny preset's epochs"})


def build_parser() -> CommandParser:
    return CommandParser(DemoOptions, prog="ser-demo", description=__doc__)


def main(argv: list[str] | None = None) -> int:
    options, debug = build_parser().parse_command(argv)
    setup_logging(debug)
    run_demo(Path(options.output_dir), options.epochs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
