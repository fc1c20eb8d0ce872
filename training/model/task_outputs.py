"""What each output of a saved model means: class logits, continuous targets, or both.

A saved model is always a plain `*ForSequenceClassification` folder, so
`AutoModelForAudioClassification` and `pipeline("audio-classification")` load every kind. Its
classifier emits K class logits followed by T target values; the config says which is which:

- `ser_task`: "classification" (also when absent: models saved before targets existed),
  "regression" or "multitask";
- `ser_classes`: the K class names, in output order (absent: every output is a class);
- `ser_targets`: the T target names, in output order, after the classes;
- `ser_target_scaling`: {name: [mean, std]} of the training split. The head is trained on
  standardised targets and the scaling is folded into its last layer at save time, so the raw
  outputs are already in the user's units; the numbers are kept to say what was done;
- `ser_target_ranges`: {name: [min, max]} seen in the training corpus, for display.

`problem_type` is "regression" for regression and multitask models, so `pipeline` applies no
softmax to their outputs (multitask users apply it to the class part; see docs).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

TASKS = ("classification", "regression", "multitask")


@dataclass(frozen=True)
class OutputLayout:
    """Which outputs are class logits and which are target values."""

    task: str
    classes: tuple[str, ...]
    targets: tuple[str, ...]

    @property
    def num_outputs(self) -> int:
        return len(self.classes) + len(self.targets)

    @property
    def class_slice(self) -> slice:
        return slice(0, len(self.classes))

    @property
    def target_slice(self) -> slice:
        return slice(len(self.classes), self.num_outputs)

    @property
    def has_classes(self) -> bool:
        return bool(self.classes)

    @property
    def has_targets(self) -> bool:
        return bool(self.targets)

    @classmethod
    def from_config(cls, config: Any) -> OutputLayout:
        """Read the layout from a model config; refuse one whose fields disagree."""
        task = getattr(config, "ser_task", None) or "classification"
        if task not in TASKS:
            raise ValueError(f"config ser_task {task!r}: expected one of {', '.join(TASKS)}")
        num_labels = int(config.num_labels)
        id2label = {int(k): v for k, v in dict(config.id2label).items()}
        targets = tuple(getattr(config, "ser_targets", None) or ())
        classes = getattr(config, "ser_classes", None)
        if classes is None:
            classes = [id2label[i] for i in range(num_labels - len(targets))]
        layout = cls(task=task, classes=tuple(classes), targets=targets)
        expected = {"classification": (True, False), "regression": (False, True)}
        if task in expected and (layout.has_classes, layout.has_targets) != expected[task]:
            raise ValueError(f"config ser_task {task!r} does not match its classes and targets")
        if task == "multitask" and not (layout.has_classes and layout.has_targets):
            raise ValueError("config ser_task 'multitask' needs both ser_classes and ser_targets")
        if layout.num_outputs != num_labels:
            raise ValueError(
                f"config has {num_labels} outputs but names {len(layout.classes)} classes and "
                f"{len(layout.targets)} targets"
            )
        return layout

    def write_to(self, config: Any) -> None:
        """Record the layout in a config (id2label covers every output, classes first)."""
        names = list(self.classes) + list(self.targets)
        config.num_labels = len(names)
        config.id2label = dict(enumerate(names))
        config.label2id = {name: i for i, name in enumerate(names)}
        config.ser_task = self.task
        config.ser_classes = list(self.classes)
        config.ser_targets = list(self.targets)
        config.problem_type = (
            "single_label_classification" if self.task == "classification" else "regression"
        )
