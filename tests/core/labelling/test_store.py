"""Two sessions labelling one dataset: no shape lost, deletions stick, broken files are never overwritten."""

from __future__ import annotations

import multiprocessing as mp
from pathlib import Path

import pytest

from core.annotation import LabelFile, Shape, load_label_file, save_label_file
from core.errors import AnnotationError, PathEscapeError
from core.labelling import merge_shapes, merged_save, shape_key

N_SAVES = 25


def _rect(label: str, x: float = 0) -> Shape:
    return Shape(label, [[x, 0.0], [x + 1, 1.0]], "rectangle")


def _empty(image: str = "a.jpg") -> LabelFile:
    return LabelFile(shapes=[], image_path=image, image_height=10, image_width=10)


def test_merge_hand_cases() -> None:
    a, b, c, d = _rect("a"), _rect("b"), _rect("c"), _rect("d")
    # disk got c from another session; we deleted a and added d
    merged = merge_shapes(disk=[a, b, c], base=[a, b], mine=[b, d])
    assert [s.label for s in merged] == ["b", "c", "d"]
    # adding a shape that is already on disk does not duplicate it
    assert [s.label for s in merge_shapes(disk=[a, c], base=[a], mine=[a, c])] == ["a", "c"]
    # same content, tiny float noise: same key
    assert shape_key(Shape("a", [[0.001, 0], [1, 1]], "rectangle")) == shape_key(a)


def _session(root: str, name: str, n: int) -> None:
    path = Path(root) / "a.json"
    base = load_label_file(path)
    for i in range(n):
        mine = LabelFile(
            shapes=[*base.shapes, _rect(f"{name}-{i}", x=i)],
            image_path=base.image_path,
            image_height=base.image_height,
            image_width=base.image_width,
        )
        base = merged_save(path, base.shapes, mine, root)


def test_two_processes_lose_nothing(tmp_path: Path) -> None:
    save_label_file(tmp_path / "a.json", _empty())
    ctx = mp.get_context("fork")
    procs = [ctx.Process(target=_session, args=(str(tmp_path), name, N_SAVES)) for name in ("p1", "p2")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    assert [p.exitcode for p in procs] == [0, 0]
    labels = sorted(s.label for s in load_label_file(tmp_path / "a.json").shapes)
    want = sorted(f"{n}-{i}" for n in ("p1", "p2") for i in range(N_SAVES))
    assert labels == want, f"{len(set(want) - set(labels))} shapes lost"


def test_without_merge_a_naive_save_would_lose_work(tmp_path: Path) -> None:
    """The failure mode the store prevents, shown with plain saves (so the test above can fail)."""
    path = tmp_path / "a.json"
    save_label_file(path, _empty())
    s1, s2 = load_label_file(path), load_label_file(path)
    s1.shapes.append(_rect("one"))
    s2.shapes.append(_rect("two"))
    save_label_file(path, s1)
    save_label_file(path, s2)
    assert [s.label for s in load_label_file(path).shapes] == ["two"]


def test_deletion_does_not_resurrect(tmp_path: Path) -> None:
    path = tmp_path / "a.json"
    save_label_file(path, LabelFile([_rect("keep"), _rect("gone", 5)], "a.jpg", 10, 10))
    s1, s2 = load_label_file(path), load_label_file(path)  # two sessions open the same file
    mine1 = load_label_file(path)
    mine1.shapes = [s for s in mine1.shapes if s.label != "gone"]
    merged_save(path, s1.shapes, mine1, tmp_path)  # session 1 deletes "gone"
    mine2 = load_label_file(path)
    mine2.shapes = [*s2.shapes, _rect("new", 7)]  # session 2 still shows "gone" and adds "new"
    merged_save(path, s2.shapes, mine2, tmp_path)
    assert [s.label for s in load_label_file(path).shapes] == ["keep", "new"]


def test_unparseable_file_is_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "a.json"
    path.write_text('{"shapes": [{"label": "half-writ')
    before = path.read_bytes()
    mine = _empty()
    mine.shapes.append(_rect("x"))
    with pytest.raises(AnnotationError, match="invalid JSON"):
        merged_save(path, [], mine, tmp_path)
    assert path.read_bytes() == before


def test_new_file_and_outside_root(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    root.mkdir()
    mine = _empty()
    mine.shapes.append(_rect("x"))
    merged_save(root / "b.json", [], mine, root)
    assert [s.label for s in load_label_file(root / "b.json").shapes] == ["x"]
    with pytest.raises(PathEscapeError):
        merged_save(tmp_path / "c.json", [], mine, root)
