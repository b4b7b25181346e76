"""Helpers for the Datasets and Label pages: photo folders, counts, splits, thumbnails, model choice."""

from __future__ import annotations

from core.datasets.folder import (
    PhotoItem,
    PhotoStatus,
    import_photos,
    list_photos,
    next_unlabelled,
    read_photo,
)
from core.datasets.selection import SELECTION_FILE, select_model, selected_model
from core.datasets.split import SPLIT_FILE, SUBSETS, load_split, make_split, save_split
from core.datasets.stats import DatasetStats, dataset_stats, filter_photos
from core.datasets.thumbs import CLASS_COLOURS, overlay, thumbnail

__all__ = [
    "CLASS_COLOURS",
    "SELECTION_FILE",
    "SPLIT_FILE",
    "SUBSETS",
    "DatasetStats",
    "PhotoItem",
    "PhotoStatus",
    "dataset_stats",
    "filter_photos",
    "import_photos",
    "list_photos",
    "load_split",
    "make_split",
    "next_unlabelled",
    "overlay",
    "read_photo",
    "save_split",
    "select_model",
    "selected_model",
    "thumbnail",
]
