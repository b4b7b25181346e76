"""Held-out accuracy of a saved attribute classifier on a crop file (``python -m core.attributes evaluate``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from core.errors import DatasetError

__all__ = ["Evaluation", "evaluate_model"]


@dataclass(frozen=True)
class Evaluation:
    """Accuracy, per-class recall and the confusion matrix (rows = truth, columns = prediction)."""

    attribute: str
    n: int
    accuracy: float
    best_constant: float  # accuracy of always answering the test set's most frequent class
    classes: tuple[str, ...]
    confusion: NDArray[np.int64]

    def report(self) -> str:
        lines = [
            f"{self.attribute}: accuracy {self.accuracy:.3f} on n = {self.n} "
            f"(best constant answer {self.best_constant:.3f}, chance {1 / len(self.classes):.3f})",
            "per class (recall, n): "
            + ", ".join(
                f"{c} {self.confusion[i, i] / max(1, self.confusion[i].sum()):.2f} ({self.confusion[i].sum()})"
                for i, c in enumerate(self.classes)
                if self.confusion[i].sum()
            ),
        ]
        return "\n".join(lines)


def evaluate_model(model_path: str | Path, crops: str | Path, batch: int = 256) -> Evaluation:
    """Score the checkpoint at ``model_path`` on the crop file ``crops`` (its own input key and attribute)."""
    import torch

    from core.attributes.data import load_crop_arrays
    from core.attributes.train import load_attribute_model, to_tensor
    from core.catalog.taxonomy import values_of

    model, arch = load_attribute_model(model_path)
    attribute = str(arch["attribute"])
    key = str(arch.get("input") or attribute)
    d = load_crop_arrays(crops)
    if key not in d:
        raise DatasetError(
            f"{crops} has no input {key!r}; rebuild it with `python -m core.attributes crops`", path=crops
        )
    x, y = d[key], d[f"y_{attribute}"]
    classes = values_of(attribute)
    preds = []
    with torch.inference_mode():
        for i in range(0, len(y), batch):
            preds.append(model(to_tensor(x[i : i + batch])).argmax(1).numpy())
    p = np.concatenate(preds)
    k = len(classes)
    conf = np.bincount(y * k + p, minlength=k * k).reshape(k, k).astype(np.int64)
    return Evaluation(
        attribute=attribute,
        n=len(y),
        accuracy=float((p == y).mean()),
        best_constant=float(np.bincount(y, minlength=k).max() / max(1, len(y))),
        classes=classes,
        confusion=conf,
    )
