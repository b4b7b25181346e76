"""Domain adaptation: fine-tune a shipped model on a labelme folder, with a held-out before/after table.

``python -m core.adapt attributes --model models/attributes/head.safetensors --data <labelme folder>
--out runs/adapt-head`` (see :mod:`core.adapt.cli`). Attribute classifiers only; the segmenter is
fine-tuned on labelme folders by its own trainer (``python -m core.train segmenter --set labelme_dirs=...``).
"""

from __future__ import annotations

from core.adapt.attributes import AdaptConfig, AdaptResult, adapt_attribute, evaluate_crops, report_markdown
from core.adapt.data import SCREW_LABEL, LabelledCrops, ScrewLabel, load_labelled_crops, scan_labels
from core.adapt.split import PhotoSplit, split_photos

__all__ = [
    "SCREW_LABEL",
    "AdaptConfig",
    "AdaptResult",
    "LabelledCrops",
    "PhotoSplit",
    "ScrewLabel",
    "adapt_attribute",
    "evaluate_crops",
    "load_labelled_crops",
    "report_markdown",
    "scan_labels",
    "split_photos",
]
