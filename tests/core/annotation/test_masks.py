"""Shapes -> masks (hand-computed and against labelme), masks -> polygons (policies, tolerance)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from core.annotation import (
    Shape,
    instance_masks,
    load_label_file,
    mask_iou,
    mask_to_polygons,
    polygons_to_mask,
    shape_to_mask,
    shapes_to_label_map,
    shapes_to_mask,
    signed_area,
)
from core.errors import AnnotationError, InputError


def test_rectangle_hand_computed() -> None:
    m = shape_to_mask(Shape("r", [[3, 2], [1, 1]], "rectangle"), 5, 5)
    want = np.zeros((5, 5), dtype=bool)
    want[1:3, 1:4] = True  # rows y=1..2, cols x=1..3, corners in any order
    assert np.array_equal(m, want)


def test_xanylabeling_four_point_rectangle() -> None:
    four = Shape("r", [[1, 1], [3, 1], [3, 2], [1, 2]], "rectangle")
    assert np.array_equal(
        shape_to_mask(four, 5, 5), shape_to_mask(Shape("r", [[1, 1], [3, 2]], "rectangle"), 5, 5)
    )


def test_thin_shapes_ignored_or_rasterised() -> None:
    line = Shape("l", [[2, 10], [18, 10]], "line")
    point = Shape("p", [[10, 10]], "point")
    assert not shape_to_mask(line, 20, 20).any() and not shape_to_mask(point, 20, 20).any()
    assert shape_to_mask(line, 20, 20, thin="rasterise")[10, 2:19].all()
    assert shape_to_mask(point, 20, 20, thin="rasterise").sum() > 50  # disc of radius 5
    assert instance_masks([line, point], 20, 20) == []


def test_mask_shape_placed_in_its_box() -> None:
    sub = np.array([[1, 0], [1, 1]], dtype=bool)
    m = shape_to_mask(Shape("m", [[3.7, 2.2], [4.7, 3.2]], "mask", mask=sub), 6, 6)
    assert sorted(zip(*np.nonzero(m), strict=True)) == [(2, 3), (3, 3), (3, 4)]


def test_too_few_points() -> None:
    with pytest.raises(AnnotationError, match="at least 3"):
        shape_to_mask(Shape("p", [[0, 0], [1, 1]], "polygon"), 4, 4)


def test_same_as_labelme_on_primitives(shared_data: Path) -> None:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from labelme.utils.shape import shape_to_mask as labelme_shape_to_mask

    lf = load_label_file(shared_data / "labelme-examples/examples/primitives/primitives.json")
    h, w = lf.image_height, lf.image_width
    assert h and w
    checked = set()
    for s in lf.shapes:
        if s.shape_type == "mask":
            continue
        theirs = labelme_shape_to_mask((h, w), s.points, s.shape_type)
        assert np.array_equal(shape_to_mask(s, h, w, thin="rasterise"), theirs), s.shape_type
        checked.add(s.shape_type)
    assert checked >= {"polygon", "rectangle", "circle", "line", "point", "linestrip"}


def test_instances_by_group_id() -> None:
    a = Shape("screw", [[0, 0], [2, 2]], "rectangle", group_id=1)
    b = Shape("screw", [[5, 5], [7, 7]], "rectangle", group_id=1)
    c = Shape("screw", [[5, 0], [7, 2]], "rectangle")  # no group: its own instance
    d = Shape("nut", [[0, 5], [2, 7]], "rectangle", group_id=1)  # same id, other label: other instance
    inst = instance_masks([a, b, c, d], 10, 10)
    assert [(i.label, i.group_id, int(i.mask.sum())) for i in inst] == [
        ("screw", 1, 18),
        ("screw", None, 9),
        ("nut", 1, 9),
    ]
    assert shapes_to_mask([a, b, c, d], 10, 10, label="nut").sum() == 9


def _two_blobs_with_hole() -> np.ndarray:
    m = np.zeros((40, 60), dtype=bool)
    m[5:30, 5:30] = True  # 25x25 square ...
    m[12:20, 12:20] = False  # ... with an 8x8 hole
    m[10:16, 40:50] = True  # a smaller 6x10 part
    return m


def test_polygon_policies() -> None:
    m = _two_blobs_with_hole()
    largest = mask_to_polygons(m, "largest", tolerance=0)
    assert len(largest) == 1
    # the largest part, hole filled, the small part dropped
    assert np.array_equal(polygons_to_mask(largest, 40, 60), _filled_square())
    parts = mask_to_polygons(m, "all", tolerance=0)
    assert len(parts) == 2 and all(signed_area(p) > 0 for p in parts)
    holes = mask_to_polygons(m, "holes", tolerance=0)
    assert [signed_area(p) > 0 for p in holes] == [True, False, True]
    assert np.array_equal(polygons_to_mask(holes, 40, 60), m)  # parts + holes is exact


def _filled_square() -> np.ndarray:
    f = np.zeros((40, 60), dtype=bool)
    f[5:30, 5:30] = True
    return f


def test_tolerance_trades_vertices_for_accuracy() -> None:
    yy, xx = np.mgrid[:80, :80]
    disc = (yy - 40) ** 2 + (xx - 40) ** 2 <= 30**2
    counts, ious = [], []
    for tol in (0.0, 0.5, 1.0, 3.0):
        (poly,) = mask_to_polygons(disc, "largest", tolerance=tol)
        counts.append(len(poly))
        ious.append(mask_iou(polygons_to_mask([poly], 80, 80), disc))
    assert counts == sorted(counts, reverse=True) and counts[0] > counts[-1]
    assert ious[0] == 1.0 and ious[2] >= 0.98 and ious[3] < ious[0]


def test_tiny_parts_and_empty() -> None:
    m = np.zeros((5, 5), dtype=bool)
    assert mask_to_polygons(m) == []
    m[2, 2] = True
    (poly,) = mask_to_polygons(m, tolerance=0)
    assert len(poly) >= 3 and np.array_equal(polygons_to_mask([poly], 5, 5), m)


def test_bad_arguments() -> None:
    with pytest.raises(InputError, match="valid: largest, all, holes"):
        mask_to_polygons(np.ones((3, 3), bool), "biggest")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="2-D"):
        mask_to_polygons(np.ones((3, 3, 1), bool))
    with pytest.raises(InputError, match="tolerance"):
        mask_to_polygons(np.ones((3, 3), bool), tolerance=-1)
    with pytest.raises(AnnotationError, match="not in the class list"):
        shapes_to_label_map([Shape("x", [[0, 0], [1, 1]], "rectangle")], 3, 3, {"y": 1})
