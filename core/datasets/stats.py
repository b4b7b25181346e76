"""Counts for the Datasets page: photos by status, shapes per class, photos per attribute value."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from core.datasets.folder import PhotoItem, list_photos

__all__ = ["DatasetStats", "dataset_stats", "filter_photos"]


@dataclass
class DatasetStats:
    """What a dataset holds.

    Attributes:
        photos: number of photos.
        done: photos with at least one shape.
        broken: label files that do not parse, as ``(json path, error)``.
        per_class: shapes per label.
        per_attribute: ``{attribute: {value: shapes}}`` from the shapes' ``attributes`` key.
    """

    photos: int = 0
    done: int = 0
    broken: list[tuple[str, str]] = field(default_factory=list)
    per_class: Counter[str] = field(default_factory=Counter)
    per_attribute: dict[str, Counter[str]] = field(default_factory=dict)


def _shape_attributes(json_path: Path) -> list[tuple[str, dict[str, str]]]:
    from core.annotation import load_label_file

    out = []
    for s in load_label_file(json_path).shapes:
        attrs = s.extra.get("attributes")
        out.append((s.label, {str(k): str(v) for k, v in attrs.items()} if isinstance(attrs, dict) else {}))
    return out


def dataset_stats(root: str | Path, items: list[PhotoItem] | None = None) -> DatasetStats:
    """Count photos, statuses, classes and attribute values of the dataset at ``root``.

    Raises:
        DatasetError: ``root`` is not a folder.
    """
    items = list_photos(root) if items is None else items
    st = DatasetStats(photos=len(items))
    for it in items:
        if it.status == "broken":
            st.broken.append((str(it.json_path), it.error))
            continue
        if it.status != "done":
            continue
        st.done += 1
        for label, attrs in _shape_attributes(it.json_path):
            st.per_class[label] += 1
            for name, value in attrs.items():
                st.per_attribute.setdefault(name, Counter())[value] += 1
    return st


def filter_photos(
    items: list[PhotoItem],
    *,
    status: str | None = None,
    label: str | None = None,
    attribute: tuple[str, str] | None = None,
) -> list[PhotoItem]:
    """The photos matching every given filter (status, a class present, an attribute ``(name, value)``)."""
    out = []
    for it in items:
        if status and it.status != status:
            continue
        if label and label not in it.labels:
            continue
        if attribute is not None:
            if it.status != "done":
                continue
            if not any(a.get(attribute[0]) == attribute[1] for _, a in _shape_attributes(it.json_path)):
                continue
        out.append(it)
    return out
