"""Dataset folders: photo + JSON pairs, safe imagePath resolution, missing photos, CLI."""

from __future__ import annotations

import json
import os
from pathlib import Path

import PIL.Image
import pytest

from core.annotation import Dataset, LabelFile, Shape, export_coco, save_label_file
from core.annotation.__main__ import check_folder, main
from core.errors import DatasetError, PathEscapeError


def _photo(p: Path, size: tuple[int, int] = (16, 12)) -> Path:
    p.parent.mkdir(parents=True, exist_ok=True)
    PIL.Image.new("RGB", size, (200, 10, 10)).save(p)
    return p


def _label(json_path: Path, image_path: str, shapes: list[Shape] | None = None) -> None:
    shapes = shapes if shapes is not None else [Shape("screw", [[1, 1], [8, 6]], "rectangle")]
    save_label_file(
        json_path, LabelFile(shapes=shapes, image_path=image_path, image_height=12, image_width=16)
    )


@pytest.fixture()
def ds_root(tmp_path: Path) -> Path:
    root = tmp_path / "ds"
    _photo(root / "a.jpg")
    _label(root / "a.json", "a.jpg")
    _photo(root / "sub" / "b.png")
    _label(
        root / "sub" / "b.json",
        "b.png",
        [Shape("nut", [[2, 2], [6, 2], [6, 8]]), Shape("pt", [[3, 3]], "point")],
    )
    _photo(root / "c.jpg")  # unlabelled
    _photo(root / ".fvw" / "hidden.jpg")  # ignored
    return root


def test_items_and_unlabelled(ds_root: Path) -> None:
    ds = Dataset(ds_root)
    items = list(ds.items())
    assert [(it.json_path.name, it.image_path.name if it.image_path else None) for it in items] == [
        ("a.json", "a.jpg"),
        ("b.json", "b.png"),
    ]
    assert items[0].image_bytes()[:2] == b"\xff\xd8"  # the JPEG itself
    assert [p.name for p in ds.unlabelled()] == ["c.jpg"]


@pytest.mark.parametrize(
    "bad", ["../outside.jpg", "sub/../../outside.jpg", "/etc/passwd", "C:\\photos\\x.jpg", "..\\outside.jpg"]
)
def test_image_path_escaping_the_root_is_refused(ds_root: Path, bad: str) -> None:
    _photo(ds_root.parent / "outside.jpg")  # exists, but must never be served
    _label(ds_root / "evil.json", bad)
    with pytest.raises(PathEscapeError, match="outside the dataset|absolute path") as ei:
        Dataset(ds_root).item(ds_root / "evil.json")
    assert ei.value.field == "imagePath"


def test_symlink_out_of_the_root_is_refused(ds_root: Path) -> None:
    outside = _photo(ds_root.parent / "secret.jpg")
    os.symlink(outside, ds_root / "link.jpg")
    _label(ds_root / "link.json", "link.jpg")
    with pytest.raises(PathEscapeError):
        Dataset(ds_root).item(ds_root / "link.json")


def test_json_outside_root_is_refused(ds_root: Path) -> None:
    _label(ds_root.parent / "x.json", "a.jpg")
    with pytest.raises(PathEscapeError):
        Dataset(ds_root).item(ds_root.parent / "x.json")


def test_missing_image_is_a_clear_error(ds_root: Path) -> None:
    (ds_root / "a.jpg").unlink()
    with pytest.raises(DatasetError, match="does not exist; put it beside the JSON") as ei:
        Dataset(ds_root).item(ds_root / "a.json")
    assert ei.value.field == "imagePath" and ei.value.path is not None and ei.value.path.endswith("a.json")


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="does not exist"):
        Dataset(tmp_path / "nope")


def test_coco_export_of_a_folder(ds_root: Path, tmp_path: Path) -> None:
    s = export_coco(ds_root, tmp_path / "out" / "coco.json")
    data = json.loads((tmp_path / "out" / "coco.json").read_text())
    assert (s.images, s.annotations, s.skipped_shapes) == (2, 2, 1)  # the point has no area
    assert [i["file_name"] for i in data["images"]] == ["a.jpg", "sub/b.png"]
    assert {c["name"]: c["id"] for c in data["categories"]} == {"nut": 1, "pt": 2, "screw": 3}
    rect = next(a for a in data["annotations"] if a["category_id"] == 3)
    assert rect["bbox"] == [1.0, 1.0, 8.0, 6.0] and rect["area"] == 48.0  # pixels x 1..8, y 1..6


def test_coco_export_of_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="no labelled photo"):
        export_coco(tmp_path, tmp_path / "c.json")


def test_cli_check_and_coco(ds_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (ds_root / "broken.json").write_text('{"shapes": [')
    rep = check_folder(ds_root)
    assert (rep.json_files, rep.label_files, rep.read_ok, len(rep.errors), rep.unlabelled) == (3, 3, 2, 1, 1)
    assert main(["check", str(ds_root)]) == 1
    out = capsys.readouterr().out
    assert "labelme files read: 2/3" in out and "broken.json" in out and "invalid JSON" in out
    (ds_root / "broken.json").unlink()
    assert main(["check", str(ds_root)]) == 0
    assert main(["coco", str(ds_root), "--out", str(tmp_path / "c.json")]) == 0
    assert "2 images, 2 annotations" in capsys.readouterr().out


def test_cli_check_on_both_corpora(shared_data: Path) -> None:
    reps = [check_folder(shared_data / n) for n in ("labelme-examples", "xanylabeling-examples")]
    assert sum(r.read_ok for r in reps) == sum(r.label_files for r in reps) == 107
    assert not any(r.errors for r in reps)
