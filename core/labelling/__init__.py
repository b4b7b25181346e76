"""Labelling sessions: locked three-way-merged saves so concurrent sessions never lose work."""

from __future__ import annotations

from core.labelling.store import dataset_lock, merge_shapes, merged_save, shape_key

__all__ = ["dataset_lock", "merge_shapes", "merged_save", "shape_key"]
