"""ser-export --onnx --quantize int8 on a regression and a multitask model: ONNX parity with the
PyTorch model on every output, pipeline in a fresh process on the export, int8 reported per
target, and ser-predict --backend onnxruntime answering with the same values."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile
from pipeline_helpers import VALUES, Request, pipeline_answers
from serving_helpers import (
    MULTITASK,
    RATE,
    REGRESSION,
    TARGET_RANGES,
    speech_with_pauses,
    tiny_dimension_model,
)

from training.inference.classifier import EmotionClassifier
from training.inference.export import main as export_main
from training.inference.export_check import TOLERANCE, compare, generated_clips
from training.inference.export_scores import pipeline_scores
from training.inference.predict import main as predict_main

LAYOUTS = {"regression": REGRESSION, "multitask": MULTITASK}


def _export(root, task: str) -> dict:
    """A tiny model of the layout exported with ONNX and int8, and two clips of speech."""
    model = tiny_dimension_model(root / "model", LAYOUTS[task])
    dest = root / "export"
    assert export_main([str(model), str(dest), "--onnx", "--quantize", "int8"]) == 0
    speech = speech_with_pauses(4.0)
    clips = [root / "a.wav", root / "b.wav"]
    soundfile.write(clips[0], speech[: int(1.5 * RATE)], RATE, subtype="FLOAT")
    soundfile.write(clips[1], 0.5 * speech[RATE // 2 : 3 * RATE], RATE, subtype="FLOAT")
    manifest = json.loads((dest / "manifest.json").read_text())
    return {"task": task, "layout": LAYOUTS[task], "dest": dest,
            "clips": clips, "verification": manifest["verification"]}  # fmt: skip


@pytest.fixture(scope="module")
def exports(tmp_path_factory) -> dict:
    """Both layouts' exports, made once for the module."""
    return {task: _export(tmp_path_factory.mktemp(f"export_{task}"), task) for task in LAYOUTS}


@pytest.fixture(scope="module", params=list(LAYOUTS))
def exported(request, exports) -> dict:
    return exports[request.param]


@pytest.fixture(scope="module")
def pipeline_raw(exports) -> dict:
    """{task: {clip: {output: value}}}: pipeline's raw outputs on each export's clips, from one
    process without the project."""
    asked = [Request(e["dest"], e["clips"], VALUES) for e in exports.values()]
    return dict(zip(exports, pipeline_answers(asked), strict=True))


def _predict(dest, clips, tmp_path, *backend: str) -> dict:
    out = tmp_path / f"{'_'.join(backend) or 'pytorch'}.json"
    argv = ["--model_dir", str(dest), "--device", "cpu", "--json", str(out), *backend]
    assert predict_main([*argv, *map(str, clips)]) == 0
    return {r["file"]: r for r in json.loads(out.read_text())["results"]}


def test_onnx_parity_is_checked_on_every_output(exported):
    verification, layout = exported["verification"], exported["layout"]
    for check in ("onnx", "pipeline"):
        assert verification[check]["max_abs_difference"] <= TOLERANCE
        assert verification[check]["targets_checked"] is True
        assert verification[check]["labels_identical"] is (True if layout.has_classes else None)
    card = (exported["dest"] / "README.md").read_text()
    assert "target values" in card


def test_predict_on_model_onnx_gives_the_pytorch_values(exported, pipeline_raw, tmp_path):
    dest, clips, layout = exported["dest"], exported["clips"], exported["layout"]
    pytorch = _predict(dest, clips, tmp_path)
    onnx = _predict(dest, clips, tmp_path, "--backend", "onnxruntime")
    for name, expected in pytorch.items():
        got = onnx[name]
        assert got.keys() == expected.keys() and got["emotion"] == expected["emotion"]
        for target in layout.targets:
            # Real files through predict: within 1e-4 of the target's range (probabilities have
            # a range of 1). The tiny model's wide random weights amplify float rounding: its
            # values differ by up to 2e-4 on these files (the export's own clips held 1e-4).
            low, high = TARGET_RANGES[target]
            tolerance = 1e-4 * (high - low)
            assert got["values"][target] == pytest.approx(expected["values"][target], abs=tolerance)
        for label, p in (expected["probabilities"] or {}).items():
            assert got["probabilities"][label] == pytest.approx(p, abs=1e-4)
    # The export answers pipeline's values in a process without the project.
    raw = pipeline_raw[exported["task"]]
    for name, expected in pytorch.items():
        for target in layout.targets:
            assert raw[name][target] == pytest.approx(expected["values"][target], abs=1e-5)


def test_int8_is_reported_per_target_as_a_share_of_its_range(exported):
    """The manifest's int8 numbers, recomputed from both ONNX files on the checked clips."""
    dest, layout = exported["dest"], exported["layout"]
    recorded = exported["verification"]["int8"]
    float_model = EmotionClassifier.from_pretrained(dest, backend="onnxruntime", batch_size=1)
    int8_model = EmotionClassifier.from_pretrained(
        dest, backend="onnxruntime", onnx_file="model.int8.onnx", batch_size=1
    )
    clips = generated_clips(float_model.sampling_rate)
    difference = np.abs(int8_model.values(clips) - float_model.values(clips)).max(axis=0)
    for index, target in enumerate(layout.targets):
        facts = recorded["targets"][target]
        low, high = TARGET_RANGES[target]
        assert facts["range"] == [low, high] and facts["range_from"] == "training corpus"
        assert facts["max_abs_difference"] == pytest.approx(difference[index], abs=1e-6)
        assert facts["max_relative_difference"] == pytest.approx(
            difference[index] / (high - low), abs=1e-6
        )
    assert ("label_agreement" in recorded) == layout.has_classes


def test_a_value_off_by_more_than_the_tolerance_fails_the_check():
    reference = {"clip": {"happy": 0.7, "sad": 0.3, "arousal": 3.2}}
    close = {"clip": {"happy": 0.7, "sad": 0.3, "arousal": 3.2 + TOLERANCE / 2}}
    assert compare(close, reference, "check", ["happy", "sad"])["targets_checked"]
    far = {"clip": {"happy": 0.7, "sad": 0.3, "arousal": 3.21}}
    with pytest.raises(ValueError, match="outputs differ by up to 1.00e-02"):
        compare(far, reference, "check", ["happy", "sad"])
    with pytest.raises(ValueError, match="outputs differ"):  # regression: values only
        compare({"clip": {"arousal": 3.21}}, {"clip": {"arousal": 3.2}}, "check", [])


def test_pipeline_scores_put_the_class_logits_of_a_multitask_model_through_a_softmax():
    raw = {"clip": {"angry": 1.0, "happy": 0.0, "neutral": 0.0, "sad": 0.0, "arousal": 4.5,
                    "valence": 2.0}}  # fmt: skip
    scores = pipeline_scores(raw, MULTITASK)["clip"]
    e = np.e
    assert scores["angry"] == pytest.approx(e / (e + 3))  # e^1 / (e^1 + 3 e^0)
    assert scores["happy"] == pytest.approx(1 / (e + 3))
    assert scores["arousal"] == 4.5 and scores["valence"] == 2.0
    assert pipeline_scores({"clip": {"arousal": 4.5}}, REGRESSION) == {"clip": {"arousal": 4.5}}
