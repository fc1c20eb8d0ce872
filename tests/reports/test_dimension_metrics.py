"""Scores of continuous targets on tables whose answers are known by hand, their speaker
intervals, the losses, the scaling folded into a saved head, and the task flags' refusals."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from model_helpers import TINY_ENCODER
from transformers import AutoModelForAudioClassification, Wav2Vec2Config

from training.arguments import parse_arguments
from training.model.regression_loss import ccc_loss, task_loss
from training.model.target_scaling import TargetScaling, fold_scaling
from training.model.task_outputs import OutputLayout
from training.model.temperature import fold_temperature
from training.reports.metrics.regression_metrics import (
    regression_intervals,
    regression_metrics,
    target_metrics,
)

TRUTH = [1.0, 2.0, 3.0, 4.0]


@pytest.mark.parametrize(
    ("predicted", "ccc", "pearson", "mae"),
    [
        # Means 2.5 and 2.5, variances 1.25 and 1.25, covariance 1.0.
        ([1.0, 3.0, 2.0, 4.0], 0.8, 0.8, 0.5),
        # Shifted by one: perfectly correlated, but CCC = 2 x 1.25 / (1.25 + 1.25 + 1).
        ([2.0, 3.0, 4.0, 5.0], 2.5 / 3.5, 1.0, 1.0),
        # Doubled: variance 5, covariance 2.5, means 5 and 2.5: CCC = 5 / (5 + 1.25 + 6.25).
        ([2.0, 4.0, 6.0, 8.0], 0.4, 1.0, 2.5),
    ],
)
def test_ccc_pearson_and_mae_match_hand_computed_values(predicted, ccc, pearson, mae):
    scores = target_metrics(predicted, TRUTH)
    assert scores["ccc"] == pytest.approx(ccc)
    assert scores["pearson"] == pytest.approx(pearson)
    assert scores["mae"] == pytest.approx(mae)


def test_scores_per_target_and_their_mean_ccc():
    predicted = np.array([[1.0, 2.0], [3.0, 4.0], [2.0, 6.0], [4.0, 8.0]])
    truth = np.array([[1.0, 1.0], [2.0, 2.0], [3.0, 3.0], [4.0, 4.0]])
    scores = regression_metrics(predicted, truth, ["arousal", "valence"])
    assert scores["ccc_arousal"] == pytest.approx(0.8)
    assert scores["ccc_valence"] == pytest.approx(0.4)
    assert scores["ccc"] == pytest.approx(0.6)
    assert scores["mae_valence"] == pytest.approx(2.5)


def test_one_speaker_interval_has_no_width_and_speakers_are_the_unit():
    truth = np.array(TRUTH * 2)
    predicted = np.array([1.0, 3.0, 2.0, 4.0] * 2)
    single = regression_intervals(predicted, truth, np.array(["a"] * 8), ["arousal"], 200, 0)
    assert single["metrics"]["ccc_arousal"] == pytest.approx(
        {"value": 0.8, "low": 0.8, "high": 0.8}
    )
    assert single["unit"] == "speaker" and single["speakers"] == 1 and "rough" in single["note"]


def test_a_perfect_and_a_hopeless_speaker_span_a_wide_interval():
    """Speaker a is predicted exactly, speaker b backwards: a resample of a alone scores MAE 0,
    of b alone 2 (|4-1|, |3-2|, |2-3|, |1-4|); the interval spans both, and resampling files
    instead (no speakers) is narrower."""
    truth = np.array(TRUTH * 2)
    predicted = np.array(TRUTH + TRUTH[::-1])
    clusters = np.array(["a"] * 4 + ["b"] * 4)
    result = regression_intervals(predicted, truth, clusters, ["v"], 1000, 0)
    mae = result["metrics"]["mae_v"]
    assert mae["value"] == pytest.approx(1.0)
    assert mae["low"] == pytest.approx(0.0) and mae["high"] == pytest.approx(2.0)
    files = regression_intervals(predicted, truth, None, ["v"], 1000, 0)
    assert files["unit"] == "file" and "no speaker information" in files["note"]
    assert files["metrics"]["mae_v"]["high"] - files["metrics"]["mae_v"]["low"] < 2.0


def test_ccc_loss_is_one_minus_the_hand_computed_ccc_averaged_over_targets():
    predicted = torch.tensor([[1.0, 2.0], [3.0, 4.0], [2.0, 6.0], [4.0, 8.0]])
    truth = torch.tensor([[1.0, 1.0], [2.0, 2.0], [3.0, 3.0], [4.0, 4.0]])
    assert float(ccc_loss(predicted, truth)) == pytest.approx(1 - (0.8 + 0.4) / 2, abs=1e-6)


def _tiny_head(layout: OutputLayout):
    config = Wav2Vec2Config(**TINY_ENCODER, feat_extract_norm="group")
    layout.write_to(config)
    torch.manual_seed(0)
    return AutoModelForAudioClassification.from_config(config).eval()


def test_the_folded_scaling_answers_in_user_units_and_survives_a_reload(tmp_path):
    layout = OutputLayout("multitask", ("sad", "happy"), ("arousal", "valence"))
    model = _tiny_head(layout)
    audio = torch.from_numpy(np.random.default_rng(0).normal(0, 0.1, (2, 8000)).astype("f4"))
    with torch.no_grad():
        before = model(audio).logits
    scaling = TargetScaling(layout.targets, np.array([4.0, -0.5]), np.array([1.5, 0.25]))
    fold_scaling(model, layout, scaling)
    fold_temperature(model, 2.0, rows=layout.class_slice)
    with torch.no_grad():
        after = model(audio).logits
    torch.testing.assert_close(after[:, :2], before[:, :2] / 2.0)
    torch.testing.assert_close(after[:, 2], before[:, 2] * 1.5 + 4.0)
    torch.testing.assert_close(after[:, 3], before[:, 3] * 0.25 - 0.5)
    assert scaling.folded and model.config.ser_target_scaling == {
        "arousal": [4.0, 1.5], "valence": [-0.5, 0.25]
    }  # fmt: skip
    model.save_pretrained(tmp_path)
    reloaded = AutoModelForAudioClassification.from_pretrained(tmp_path).eval()
    assert OutputLayout.from_config(reloaded.config) == layout
    assert reloaded.config.ser_target_scaling == {"arousal": [4.0, 1.5], "valence": [-0.5, 0.25]}
    with torch.no_grad():
        torch.testing.assert_close(reloaded(audio).logits, after)
    with pytest.raises(ValueError, match="already folded"):
        fold_scaling(model, layout, scaling)


def test_losses_compare_in_standard_units_before_and_after_the_fold():
    layout = OutputLayout("regression", (), ("arousal",))
    scaling = TargetScaling(layout.targets, np.array([3.0]), np.array([2.0]))
    loss = task_loss(layout, scaling, "mse")
    truth = torch.tensor([[1.0], [5.0]])  # standardised: -1 and 1
    standard = {"logits": torch.tensor([[-1.0], [0.0]])}
    assert float(loss(standard, truth)) == pytest.approx(0.5)
    scaling.folded = True  # the same answers in user units: 1 and 3
    assert float(loss({"logits": torch.tensor([[1.0], [3.0]])}, truth)) == pytest.approx(0.5)


def test_a_constant_training_target_is_refused_by_name():
    with pytest.raises(ValueError, match="target valence has one value"):
        TargetScaling.fit(("arousal", "valence"), np.array([[1.0, 2.0], [3.0, 2.0]]))


def _parse(tmp_path, *flags):
    return parse_arguments(
        ["--model_path", "m", "--dataset_dir", "d", "--output_dir", str(tmp_path), *flags]
    )


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (("--task", "regression"), "--task regression needs --targets"),
        (("--targets", "arousal"), "--targets needs --task regression"),
        (("--task", "regression", "--targets", "a", "--class_weighting", "balanced"),
         "--class_weighting balanced weighs classes and --task regression has none"),
        (("--task", "multitask", "--targets", "a", "--loss_weights", "1"), "--loss_weights 1"),
        (("--loss_weights", "1,1"), "--loss_weights is for --task multitask"),
        (("--task", "regression", "--targets", "a", "--eval_dataset_dir", "x"),
         "--eval_dataset_dir scores classes"),
    ],
)  # fmt: skip
def test_task_flags_that_do_not_fit_are_refused_in_one_line(tmp_path, capsys, flags, message):
    with pytest.raises(SystemExit):
        _parse(tmp_path, *flags)
    assert message in capsys.readouterr().err


def test_each_task_selects_its_best_checkpoint_by_its_own_metric(tmp_path):
    _, _, regression = _parse(tmp_path, "--task", "regression", "--targets", "a")
    assert regression.metric_for_best_model == "ccc" and regression.greater_is_better
    _, _, multitask = _parse(tmp_path, "--task", "multitask", "--targets", "a")
    assert multitask.metric_for_best_model == "combined"
    _, _, chosen = _parse(tmp_path, "--task", "regression", "--targets", "a",
                          "--metric_for_best_model", "ccc_a")  # fmt: skip
    assert chosen.metric_for_best_model == "ccc_a"


def test_a_cached_frozen_probe_is_refused_for_targets(tmp_path, capsys):
    with pytest.raises(SystemExit):
        _parse(tmp_path, "--task", "regression", "--targets", "a", "--freeze_encoder", "true")
    assert "add --cache_frozen_features false" in capsys.readouterr().err


def test_classes_are_refused_on_a_corpus_of_targets_only():
    import datasets

    from training.task_training import task_layout

    features = datasets.Features(
        {"label": datasets.ClassLabel(names=[]), "arousal": datasets.Value("float32")}
    )
    rows = datasets.Dataset.from_dict({"label": [-1, -1], "arousal": [1.0, 2.0]}, features)
    assert task_layout("regression", "arousal", rows, "d") == OutputLayout(
        "regression", (), ("arousal",)
    )
    for task in ("classification", "multitask"):
        with pytest.raises(ValueError, match=f"--task {task}: d holds no labels"):
            task_layout(task, "arousal", rows, "d")
