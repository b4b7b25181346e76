"""Malformed labelme JSON gives a typed error naming file and field; writes are atomic."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

import core.annotation._atomic as atomic
from core.annotation import LabelFile, Shape, load_label_file, save_label_file
from core.errors import AnnotationError

GOOD = {
    "version": "5.5.0",
    "flags": {},
    "shapes": [{"label": "screw", "points": [[1, 2], [3, 4], [5, 1]], "shape_type": "polygon"}],
    "imagePath": "a.jpg",
    "imageData": None,
    "imageHeight": 10,
    "imageWidth": 12,
}


def _with(**changes: object) -> str:
    d = json.loads(json.dumps(GOOD))
    for k, v in changes.items():
        if k.startswith("shape_"):
            d["shapes"][0][k[len("shape_") :]] = v
        else:
            d[k] = v
    return json.dumps(d)


@pytest.mark.parametrize(
    ("text", "field", "match"),
    [
        ('{"shapes": [', "<json>", "invalid JSON at line 1"),  # truncated
        ("", "<json>", "invalid JSON"),  # empty file
        ("[1, 2]", "<root>", "JSON object"),  # wrong top-level type
        (json.dumps({"imagePath": "a.jpg"}), "shapes", "not a labelme annotation"),
        (_with(shapes={"a": 1}), "shapes", "must be a list"),
        (_with(imagePath=None), "imagePath", "non-empty string"),
        (_with(imageHeight="338"), "imageHeight", "positive integer"),
        (_with(shape_label=None), "shapes[0].label", "label is required"),
        (_with(shape_points=[]), "shapes[0].points", "non-empty"),
        (_with(shape_points=[[1, 2], [3]]), "shapes[0].points[1]", r"\[x, y\]"),
        (_with(shape_points=[[1, 2], [True, 3]]), "shapes[0].points[1]", r"\[x, y\]"),
        (_with(shape_shape_type="blob"), "shapes[0].shape_type", "valid: polygon"),
        (_with(shape_group_id="1"), "shapes[0].group_id", "integer"),
        (_with(shape_flags={"ok": "yes"}), "shapes[0].flags.ok", "true/false"),
        (_with(shape_mask="not base64!!"), "shapes[0].mask", "base64-encoded PNG"),
        (_with(flags=[1]), "flags", "object"),
    ],
)
def test_malformed_json_names_file_and_field(tmp_path: Path, text: str, field: str, match: str) -> None:
    p = tmp_path / "bad.json"
    p.write_text(text, encoding="utf-8")
    with pytest.raises(AnnotationError, match=match) as ei:
        load_label_file(p)
    assert ei.value.field == field
    assert ei.value.path == str(p)
    assert str(p) in str(ei.value)


def test_not_utf8_and_missing_file(tmp_path: Path) -> None:
    p = tmp_path / "latin.json"
    p.write_bytes(b'{"label": "\xe9"}')
    with pytest.raises(AnnotationError, match="not UTF-8"):
        load_label_file(p)
    with pytest.raises(AnnotationError, match="cannot read"):
        load_label_file(tmp_path / "nope.json")


def test_old_format_defaults(tmp_path: Path) -> None:
    # labelme 2.x: no version, no shape_type, flags null, colours at both levels
    raw = {
        "shapes": [
            {"label": "a", "points": [[0, 0], [4, 0], [4, 4]], "line_color": None, "fill_color": None}
        ],
        "lineColor": [0, 255, 0, 128],
        "fillColor": [255, 0, 0, 128],
        "imagePath": "x\\y.jpg",
        "imageData": None,
        "flags": None,
    }
    p = tmp_path / "old.json"
    p.write_text(json.dumps(raw))
    lf = load_label_file(p)
    assert lf.shapes[0].shape_type == "polygon" and lf.flags == {} and lf.image_height is None
    assert lf.image_path == "x/y.jpg"
    assert lf.extra == {"lineColor": [0, 255, 0, 128], "fillColor": [255, 0, 0, 128]}
    assert lf.shapes[0].extra == {"line_color": None, "fill_color": None}


def test_mask_shape_round_trip(tmp_path: Path) -> None:
    m = np.zeros((3, 4), dtype=bool)
    m[1, 1:3] = True
    lf = LabelFile(
        shapes=[Shape("m", [[5, 6], [8, 8]], "mask", group_id=2, mask=m, extra={"score": 0.5})],
        image_path="a.jpg",
        image_height=20,
        image_width=20,
    )
    save_label_file(tmp_path / "m.json", lf)
    back = load_label_file(tmp_path / "m.json")
    assert back.shapes[0].mask is not None and np.array_equal(back.shapes[0].mask, m)
    assert back.shapes[0].extra == {"score": 0.5} and back.shapes[0].group_id == 2


def _existing(tmp_path: Path) -> tuple[Path, bytes]:
    p = tmp_path / "a.json"
    p.write_text(_with(), encoding="utf-8")
    return p, p.read_bytes()


def test_failure_mid_write_leaves_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    p, before = _existing(tmp_path)
    lf = load_label_file(p)
    lf.shapes = lf.shapes * 2000  # large enough to need several chunks

    calls = {"n": 0}
    real_write = os.write

    def flaky_write(fd: int, data: bytes | memoryview) -> int:
        calls["n"] += 1
        if calls["n"] == 2:  # the first chunk is already in the temp file
            raise OSError(28, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(atomic.os, "write", flaky_write)
    with pytest.raises(AnnotationError, match="previous file is unchanged") as ei:
        save_label_file(p, lf)
    assert calls["n"] == 2 and ei.value.path == str(p)
    assert p.read_bytes() == before
    assert sorted(x.name for x in tmp_path.iterdir()) == ["a.json"]  # no temp file left behind


def test_failure_at_replace_leaves_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    p, before = _existing(tmp_path)
    lf = load_label_file(p)
    lf.shapes.append(Shape("nut", [[0, 0], [1, 1]], "rectangle"))

    def boom(src: str, dst: str) -> None:
        raise OSError(5, "I/O error")

    monkeypatch.setattr(atomic.os, "replace", boom)
    with pytest.raises(AnnotationError):
        save_label_file(p, lf)
    assert p.read_bytes() == before
    assert sorted(x.name for x in tmp_path.iterdir()) == ["a.json"]
    monkeypatch.undo()
    save_label_file(p, lf)
    assert [s.label for s in load_label_file(p).shapes] == ["screw", "nut"]


def test_unserialisable_extra_is_a_typed_error(tmp_path: Path) -> None:
    p, before = _existing(tmp_path)
    lf = load_label_file(p)
    lf.extra["bad"] = object()
    with pytest.raises(AnnotationError, match="serialise"):
        save_label_file(p, lf)
    assert p.read_bytes() == before
