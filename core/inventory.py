"""What datasets and models exist on disk: the workbench's landing page and the model picker read this.

A *dataset* is a folder of photos with labelme JSON beside them (possibly none yet). A *model* is a
checkpoint file in ``models/`` (``.safetensors``, ``.pt``, ``.pth``) with an optional model card: a
Markdown file of the same stem (``segmenter.safetensors`` + ``segmenter.md``), else the folder's
``MODEL_CARD.md`` or ``README.md`` (nearest folder up to ``models/``), and an optional ``<stem>.metrics.json``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "PHOTO_EXTENSIONS",
    "CHECKPOINT_EXTENSIONS",
    "DatasetInfo",
    "ModelInfo",
    "find_datasets",
    "find_models",
    "is_segmenter_name",
]

PHOTO_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".bmp"})
CHECKPOINT_EXTENSIONS = frozenset({".safetensors", ".pt", ".pth"})


@dataclass(frozen=True)
class DatasetInfo:
    """A dataset folder and its counts (photos, photos with a labelme JSON beside them)."""

    name: str
    path: Path
    n_photos: int
    n_labelled: int


@dataclass(frozen=True)
class ModelInfo:
    """A checkpoint file with its card text and metrics, when present."""

    name: str
    path: Path
    size_bytes: int
    card: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)


def _count(folder: Path) -> tuple[int, int]:
    photos = [p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in PHOTO_EXTENSIONS]
    labelled = sum(1 for p in photos if p.with_suffix(".json").is_file())
    return len(photos), labelled


def find_datasets(root: str | Path) -> list[DatasetInfo]:
    """Datasets directly under ``root`` (and ``root`` itself if it holds photos), sorted by name.

    A folder counts as a dataset when it holds at least one photo or labelme JSON. Missing ``root``
    gives an empty list: a fresh checkout has no generated data yet.
    """
    root = Path(root)
    if not root.is_dir():
        return []
    out: list[DatasetInfo] = []
    for folder in [root, *sorted(p for p in root.iterdir() if p.is_dir())]:
        n_photos, n_labelled = _count(folder)
        n_json = sum(1 for _ in folder.glob("*.json"))
        if n_photos or (n_json and folder != root):
            out.append(DatasetInfo(folder.name, folder, n_photos, n_labelled))
    return out


def _read_metrics(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


_FOLDER_CARDS = ("MODEL_CARD.md", "README.md")


def _card_for(checkpoint: Path, root: Path) -> Path | None:
    """``<stem>.md`` beside the checkpoint, else the nearest folder card (MODEL_CARD.md, README.md) up to root."""
    own = checkpoint.with_suffix(".md")
    if own.is_file():
        return own
    folder = checkpoint.parent
    while True:
        for name in _FOLDER_CARDS:
            if (folder / name).is_file():
                return folder / name
        if folder == root or root not in folder.parents:
            return None
        folder = folder.parent


def find_models(root: str | Path) -> list[ModelInfo]:
    """Checkpoints anywhere under ``root`` with their model cards, sorted by path."""
    root = Path(root)
    if not root.is_dir():
        return []
    out: list[ModelInfo] = []
    for path in sorted(
        p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in CHECKPOINT_EXTENSIONS
    ):
        card_path = _card_for(path, root)
        card = card_path.read_text(encoding="utf-8") if card_path is not None else None
        metrics_path = path.with_name(path.stem + ".metrics.json")
        metrics = _read_metrics(metrics_path) if metrics_path.is_file() else {}
        out.append(
            ModelInfo(str(path.relative_to(root).with_suffix("")), path, path.stat().st_size, card, metrics)
        )
    return out


def is_segmenter_name(name: str) -> bool:
    """Whether a checkpoint's name (``ModelInfo.name`` or a file name) marks it as a screw/coin segmenter.

    The one naming rule the Label page's proposal and the Models page's search choice share: "seg" in the name.
    """
    return "seg" in Path(name).name.lower()
