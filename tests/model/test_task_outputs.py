"""The output layout a saved model declares: classes first, then targets, checked on load."""

import pytest
from transformers import Wav2Vec2Config

from training.model.task_outputs import OutputLayout


def test_old_classifier_config_reads_as_classification():
    config = Wav2Vec2Config(num_labels=3, id2label={0: "angry", 1: "calm", 2: "sad"})
    layout = OutputLayout.from_config(config)
    assert layout.task == "classification"
    assert layout.classes == ("angry", "calm", "sad")
    assert layout.targets == ()


def test_multitask_layout_round_trips_through_a_saved_config(tmp_path):
    config = Wav2Vec2Config()
    OutputLayout("multitask", ("angry", "calm"), ("arousal", "valence", "dominance")).write_to(
        config
    )
    config.save_pretrained(tmp_path)
    layout = OutputLayout.from_config(Wav2Vec2Config.from_pretrained(tmp_path))
    assert layout.classes == ("angry", "calm")
    assert layout.targets == ("arousal", "valence", "dominance")
    assert (layout.class_slice, layout.target_slice) == (slice(0, 2), slice(2, 5))
    assert Wav2Vec2Config.from_pretrained(tmp_path).problem_type == "regression"


def test_layout_disagreeing_with_the_number_of_outputs_is_refused():
    config = Wav2Vec2Config()
    OutputLayout("regression", (), ("arousal", "valence")).write_to(config)
    config.num_labels = 3
    with pytest.raises(ValueError, match="3 outputs but names 0 classes and 2 targets"):
        OutputLayout.from_config(config)


def test_regression_task_with_classes_is_refused():
    config = Wav2Vec2Config()
    OutputLayout("multitask", ("angry",), ("arousal",)).write_to(config)
    config.ser_task = "regression"
    with pytest.raises(ValueError, match="does not match"):
        OutputLayout.from_config(config)
