"""What a batch's `labels` hold for each task, built the same way by every collator.

classification: the class ids (long, (B,)); regression: the raw target values (float32,
(B, T)); multitask: the class id then the target values (float32, (B, 1 + T)). Targets travel
raw: the loss standardises them (training.model.target_scaling), so the metrics, the per-file
table and the Trainer's ordering check all see the user's numbers.
"""

from __future__ import annotations

import numpy as np
import torch


class BatchLabels:
    """The labels of a batch of dataset rows, and the same array for a whole split."""

    def __init__(self, targets: tuple[str, ...] = (), has_classes: bool = True):
        self.targets = tuple(targets)
        self.has_classes = has_classes

    @property
    def columns(self) -> list[str]:
        """The dataset columns the labels are read from."""
        return ["label", *self.targets]

    def _table(self, label, values) -> np.ndarray:
        if not self.targets:
            return np.asarray(label, dtype=np.int64)
        parts = ([np.asarray(label, dtype=np.float32)] if self.has_classes else []) + [
            np.asarray(v, dtype=np.float32) for v in values
        ]
        return np.stack(parts, axis=1)

    def __call__(self, rows: list[dict]) -> torch.Tensor:
        table = self._table(
            [int(row["label"]) for row in rows],
            [[float(row[name]) for row in rows] for name in self.targets],
        )
        return torch.from_numpy(table)

    def of_split(self, split) -> np.ndarray:
        """Every row's labels, in the split's order, as a batch of all of them would hold."""
        return self._table(split["label"], [split[name] for name in self.targets])


CLASS_LABELS = BatchLabels()
