from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from core.annotation import LabelFile, Shape, save_label_file
from core.datasets import (
    dataset_stats,
    filter_photos,
    import_photos,
    list_photos,
    load_split,
    make_split,
    next_unlabelled,
    read_photo,
    save_split,
    select_model,
    selected_model,
    thumbnail,
)
from core.errors import ConfigError, DatasetError, ImageReadError, InputError, PathEscapeError


def _photo(path: Path, w: int = 64, h: int = 48) -> None:
    img = np.full((h, w, 3), 60, np.uint8)
    cv2.ellipse(img, (w // 2, h // 2), (w // 5, h // 6), 0, 0, 360, (230, 220, 100), -1)
    cv2.imwrite(str(path), img)


def _label(path: Path, *shapes: tuple[str, dict[str, str]]) -> None:
    sh = [
        Shape(lab, [[10, 10], [30, 10], [30, 30]], extra={"attributes": attrs} if attrs else {})
        for lab, attrs in shapes
    ]
    save_label_file(path.with_suffix(".json"), LabelFile(sh, path.name, 48, 64))


@pytest.fixture
def ds(tmp_path: Path) -> Path:
    root = tmp_path / "ds"
    root.mkdir()
    for i in range(4):
        _photo(root / f"p{i}.png")
    _label(root / "p0.png", ("screw", {"head": "pan"}), ("coin", {}))
    _label(root / "p2.png", ("screw", {"head": "hex"}))
    (root / "p3.json").write_text("{ broken")
    (root / "bad.jpg").write_bytes(b"not a jpeg")
    return root


def test_list_photos_statuses_and_next_unlabelled(ds):
    items = {it.name: it for it in list_photos(ds)}
    assert items["p0.png"].status == "done" and items["p0.png"].labels == ("screw", "coin")
    assert items["p1.png"].status == "todo" and items["bad.jpg"].status == "todo"
    assert items["p3.png"].status == "broken" and "invalid JSON" in items["p3.png"].error
    order = list_photos(ds)
    assert next_unlabelled(order).name == "bad.jpg"
    assert next_unlabelled(order, after=ds / "bad.jpg").name == "p1.png"
    assert next_unlabelled([it for it in order if it.status != "todo"]) is None
    with pytest.raises(DatasetError, match="not found"):
        list_photos(ds / "missing")


def test_unreadable_photo_raises_a_typed_error(ds):
    with pytest.raises(ImageReadError):
        read_photo(ds / "bad.jpg")
    assert read_photo(ds / "p1.png").shape == (48, 64, 3)


def test_stats_and_filters(ds):
    st = dataset_stats(ds)
    assert (st.photos, st.done) == (5, 2)
    assert st.per_class == {"screw": 2, "coin": 1}
    assert st.per_attribute == {"head": {"pan": 1, "hex": 1}}
    assert len(st.broken) == 1 and st.broken[0][0].endswith("p3.json")
    items = list_photos(ds)
    assert [it.name for it in filter_photos(items, label="coin")] == ["p0.png"]
    assert [it.name for it in filter_photos(items, attribute=("head", "hex"))] == ["p2.png"]
    assert len(filter_photos(items, status="todo")) == 2


def test_split_is_deterministic_stable_and_saved(tmp_path):
    names = [f"p{i}.png" for i in range(20)]
    a = make_split(names, seed=1)
    assert a == make_split(names, seed=1)
    assert [len(a[k]) for k in ("train", "val", "test")] == [16, 2, 2]
    assert sorted(sum(a.values(), [])) == sorted(names)
    b = make_split([*names, "new.png"], seed=5, previous=a)  # old photos keep their subset
    for k in a:
        assert set(a[k]) <= set(b[k])
    save_split(tmp_path, b, seed=5)
    assert load_split(tmp_path) == b
    assert load_split(tmp_path / "none") is None
    with pytest.raises(InputError):
        make_split(names, fractions=(0.5, 0.5, 0.5))
    (tmp_path / "split.json").write_text("[1, 2]")
    with pytest.raises(DatasetError, match="malformed"):
        load_split(tmp_path)


def test_import_photos_copies_without_overwriting(ds, tmp_path):
    out = tmp_path / "new"
    copied = import_photos(ds, out)
    assert len(copied) == 5 and (out / "p0.png").is_file()
    assert import_photos(ds, out) == []  # second import skips existing names
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DatasetError, match="no photos"):
        import_photos(empty, out)


def test_thumbnail_draws_class_colours(ds):
    from core.annotation import load_label_file

    img = read_photo(ds / "p0.png")
    th = thumbnail(img, load_label_file(ds / "p0.json").shapes, size=32)
    assert th.shape == (24, 32, 3)
    full = thumbnail(img, load_label_file(ds / "p0.json").shapes, size=100)
    assert not np.array_equal(full, img)  # the overlay changed the shape's pixels


def test_model_selection_file(tmp_path):
    models = tmp_path / "models"
    (models / "a").mkdir(parents=True)
    ck = models / "a" / "seg.safetensors"
    ck.write_bytes(b"x")
    assert selected_model(models) is None
    settings = select_model(models, ck)
    assert settings.name == "selected.json" and selected_model(models) == ck.resolve()
    other = tmp_path / "elsewhere.pt"
    other.write_bytes(b"x")
    with pytest.raises(PathEscapeError):
        select_model(models, other)
    with pytest.raises(ConfigError, match="not found"):
        select_model(models, models / "missing.pt")
    ck.unlink()
    assert selected_model(models) is None  # the chosen file has gone
