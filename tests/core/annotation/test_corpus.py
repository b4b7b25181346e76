"""Every JSON in the labelme and X-AnyLabeling corpora: read, round-trip, and accepted by labelme 6.3.1."""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import PIL.Image
import pytest

from core.annotation import load_label_file, save_label_file
from core.errors import AnnotationError


def test_reads_every_corpus_json(corpus_jsons: list[Path], labelme_jsons: list[Path]) -> None:
    read, failures = 0, []
    for p in labelme_jsons:
        try:
            lf = load_label_file(p)
        except AnnotationError as e:
            failures.append(str(e))
            continue
        assert len(lf.shapes) == len(json.loads(p.read_text())["shapes"])
        read += 1
    # the rest (COCO file, X-AnyLabeling config maps) must be refused with a typed error, not a crash
    others = [p for p in corpus_jsons if p not in labelme_jsons]
    for p in others:
        with pytest.raises(AnnotationError, match="not a labelme annotation|JSON object"):
            load_label_file(p)
    msg = f"labelme corpus files read: {read}/{len(labelme_jsons)} (+{len(others)} non-labelme JSON refused)"
    print(msg)
    assert read == len(labelme_jsons) == 107, msg + "; " + "; ".join(failures[:5])
    assert not failures


def _normalised(raw: dict[str, Any]) -> dict[str, Any]:
    """What a faithful writer must keep: every key, with labelme's documented defaults filled in."""
    out = dict(raw)
    out["imageData"] = None
    out["flags"] = raw.get("flags") or {}
    out.setdefault("imageHeight", None)
    out.setdefault("imageWidth", None)
    out.pop("version", None)
    shapes = []
    for s in raw["shapes"]:
        s = dict(s)
        s["shape_type"] = s.get("shape_type") or "polygon"
        s["flags"] = s.get("flags") or {}
        s["description"] = s.get("description") or ""
        s.setdefault("group_id", None)
        if s.get("mask") is not None:
            s["mask"] = (
                np.asarray(PIL.Image.open(io.BytesIO(base64.b64decode(s["mask"])))).astype(bool).tolist()
            )
        else:
            s["mask"] = None
        shapes.append(s)
    out["shapes"] = shapes
    return out


def test_round_trip_keeps_every_key(labelme_jsons: list[Path], tmp_path: Path) -> None:
    for i, p in enumerate(labelme_jsons):
        raw = json.loads(p.read_text(encoding="utf-8"))
        out = tmp_path / f"{i}.json"
        save_label_file(out, load_label_file(p))
        written = json.loads(out.read_text(encoding="utf-8"))
        assert written["imageData"] is None  # not embedded unless asked
        assert _normalised(written) == _normalised(raw), p
        # reading what we wrote and writing it again changes nothing
        save_label_file(tmp_path / "again.json", load_label_file(out))
        assert (tmp_path / "again.json").read_text() == out.read_text()
    # X-AnyLabeling's keys were in the corpus and survived (checked by the equality above)
    assert {"score", "attributes", "difficult", "kie_linking"} <= {
        k for p in labelme_jsons for s in json.loads(p.read_text())["shapes"] for k in s
    }


def test_keep_image_data_when_asked(shared_data: Path, tmp_path: Path) -> None:
    src = shared_data / "labelme-examples/examples/tutorial/apc2016_obj3.json"
    lf = load_label_file(src)
    assert lf.image_data
    save_label_file(tmp_path / "a.json", lf, keep_image_data=True)
    assert json.loads((tmp_path / "a.json").read_text())["imageData"] == lf.image_data


def _place_image(
    src_json: Path, dst_json: Path, lf_height: int | None, lf_width: int | None, image_path: str
) -> None:
    """Put the photo where labelme's reader will look for it: the original, or a blank of the declared size."""
    src_img = src_json.parent / image_path
    dst_img = dst_json.parent / image_path
    dst_img.parent.mkdir(parents=True, exist_ok=True)
    if src_img.is_file():
        os.symlink(src_img.resolve(), dst_img)
    else:  # history/ keeps the JSON without its photo
        PIL.Image.new("RGB", (lf_width or 8, lf_height or 8)).save(dst_img, format="JPEG")


def test_labelme_reader_accepts_what_we_write(labelme_jsons: list[Path], tmp_path: Path) -> None:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from labelme._label_file import LabelFileReadError, read_label_file
    from loguru import logger

    logger.disable("labelme")

    accepted, rejected = 0, []
    for i, p in enumerate(labelme_jsons):
        lf = load_label_file(p)
        dst = tmp_path / str(i) / p.name
        dst.parent.mkdir(parents=True)
        embedded = lf.image_data is not None
        if not embedded:
            _place_image(p, dst, lf.image_height, lf.image_width, lf.image_path)
        save_label_file(dst, lf, keep_image_data=embedded)
        try:
            data = read_label_file(str(dst))
        except LabelFileReadError as e:
            rejected.append(f"{p}: {e}")
            continue
        assert [s["label"] for s in data.shapes] == [s.label for s in lf.shapes]
        assert [s["shape_type"] for s in data.shapes] == [s.shape_type for s in lf.shapes]
        for ours, theirs in zip(lf.shapes, data.shapes, strict=True):
            assert theirs["other_data"] == ours.extra
            if ours.mask is not None:
                assert theirs["mask"] is not None and np.array_equal(theirs["mask"], ours.mask)
        accepted += 1
        shutil.rmtree(dst.parent)
    msg = f"files we write that labelme 6.3.1 accepts: {accepted}/{len(labelme_jsons)}"
    print(msg)
    assert accepted == len(labelme_jsons), msg + "; " + "; ".join(rejected[:3])
