"""Saving label files so that two people labelling one dataset never lose each other's work.

Every save is a locked three-way merge: under an exclusive lock on the dataset, the file on disk (which
another session may have changed since we loaded it) is re-read, the shapes *this* session deleted are
removed from it and the shapes it added are appended, then the result is written atomically. Shapes are
identified by their content (label, type, rounded points, group id), so the same shape added twice
appears once.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
from collections.abc import Iterator, Sequence
from pathlib import Path

from core.annotation import LabelFile, Shape, load_label_file, save_label_file
from core.errors import PathEscapeError

__all__ = ["shape_key", "dataset_lock", "merge_shapes", "merged_save"]


def shape_key(shape: Shape) -> str:
    """A content key for a shape: equal keys mean the same annotation."""
    pts = [[round(float(x), 1), round(float(y), 1)] for x, y in shape.points]
    return json.dumps([shape.label, shape.shape_type, pts, shape.group_id], separators=(",", ":"))


@contextlib.contextmanager
def dataset_lock(root: str | Path) -> Iterator[None]:
    """An exclusive inter-process lock on a dataset folder (``<root>/.fvw/lock``)."""
    lock_dir = Path(root) / ".fvw"
    lock_dir.mkdir(exist_ok=True)
    with open(lock_dir / "lock", "a+") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def merge_shapes(disk: Sequence[Shape], base: Sequence[Shape], mine: Sequence[Shape]) -> list[Shape]:
    """Three-way merge of shape lists.

    Args:
        disk: shapes in the file now (may include other sessions' work).
        base: shapes this session loaded.
        mine: shapes this session has now.

    Returns:
        ``disk`` minus what this session deleted, plus what it added (each once), in a stable order.
    """
    base_keys = {shape_key(s) for s in base}
    mine_keys = {shape_key(s) for s in mine}
    deleted = base_keys - mine_keys
    out = [s for s in disk if shape_key(s) not in deleted]
    have = {shape_key(s) for s in out}
    for s in mine:
        k = shape_key(s)
        if k not in base_keys and k not in have:
            out.append(s)
            have.add(k)
    return out


def merged_save(
    json_path: str | Path, base: Sequence[Shape], mine: LabelFile, dataset_root: str | Path
) -> LabelFile:
    """Merge ``mine`` into whatever is on disk at ``json_path`` and write it atomically.

    Args:
        json_path: the labelme file, inside ``dataset_root``.
        base: the shapes this session loaded (or last saved).
        mine: the session's current content.
        dataset_root: the dataset folder (holds the lock).

    Returns:
        The label file as written, which becomes this session's new base.

    Raises:
        PathEscapeError: ``json_path`` is not inside ``dataset_root``.
        AnnotationError: the file on disk does not parse; it is left untouched so nobody's work is
            overwritten (fix or restore it, then save again).
    """
    json_path = Path(json_path)
    if not json_path.resolve().is_relative_to(Path(dataset_root).resolve()):
        raise PathEscapeError(f"{json_path} is not inside the dataset {dataset_root}", path=json_path)
    with dataset_lock(dataset_root):
        if json_path.exists():
            disk = load_label_file(json_path)
            disk.shapes = merge_shapes(disk.shapes, base, mine.shapes)
            disk.flags = {**disk.flags, **mine.flags}
            result = disk
        else:
            result = mine
        save_label_file(json_path, result)
    return result
