from __future__ import annotations

import json

import numpy as np
import pytest

from core.catalog import FINISHES, HEADS, SKU, THREADS, TIPS, build_catalog, write_catalog
from core.errors import ConfigError, InputError
from core.synth import (
    StudioConfig,
    build_profile,
    contact_sheet,
    generate_dataset,
    head_side_of,
    render_photo,
    thumbnail,
    to_labelme,
    write_label_json,
)

SMALL = StudioConfig(
    width=160, height=120, degrade=False, keep_masks=True, distractor_prob=0.5, finger_prob=0.3
)


def _sku(head="pan", finish="zinc", tip="sharp", thread="full", length=20.0, d=4.0) -> SKU:
    return SKU("T-1", "test", head, finish, tip, thread, length, d)


def _poly_coverage(poly, h, w, k=8):
    """Exact-ish area coverage of a polygon per pixel (k x k supersampling at sub-pixel centres)."""
    import cv2

    m = np.zeros((h * k, w * k), np.uint8)
    pts = np.round(((poly + 0.5) * k - 0.5) * 16).astype(np.int32)
    cv2.fillPoly(m, [pts], 1, cv2.LINE_8, shift=4)
    return m.reshape(h, k, w, k).mean(axis=(1, 3))


def _poly_mask(poly, h, w):
    return _poly_coverage(poly, h, w, k=4) > 0.5


def _iou(a, b):
    return (a & b).sum() / max((a | b).sum(), 1)


@pytest.fixture(scope="module")
def catalog_db(tmp_path_factory):
    return write_catalog(build_catalog(), tmp_path_factory.mktemp("cat") / "catalog.sqlite")


@pytest.mark.parametrize(
    ("attr", "values"), [("head", HEADS), ("finish", FINISHES), ("tip", TIPS), ("thread", THREADS)]
)
def test_every_taxonomy_value_renders(attr, values):
    for k, val in enumerate(values):
        sku = _sku(**{attr: val})
        photo = render_photo(sku, seed=k, config=SMALL)
        assert photo.image.shape == (120, 160, 3)
        m = photo.screw_mask
        assert m is not None and m.sum() > 20, f"{attr}={val} drew no screw"
        # the screw is visible: its pixels differ from the photo without it
        assert photo.meta["length_mm"] == 20.0


def test_head_silhouettes_differ():
    outlines = {h: build_profile(_sku(head=h)).polygon for h in HEADS}
    sigs = {
        h: (len(p), round(float(np.abs(p[:, 1]).max()), 3), round(float(p[:, 0].max()), 3))
        for h, p in outlines.items()
    }
    assert len(set(sigs.values())) >= 28


@pytest.mark.parametrize(("seed", "head"), enumerate(("eye", "wing", "hex_washer", "round")))
def test_polygons_match_rendered_pixels(seed, head):
    # At the product's 1280x960: the written polygon vs the renderer's own coverage after the tilt.
    cfg = StudioConfig(degrade=True, keep_masks=True, distractor_prob=1.0, finger_prob=1.0)
    photo = render_photo(_sku(head=head, length=30, d=5), seed, cfg)
    for poly, mask in ((photo.screw_polygon, photo.screw_mask), (photo.coin_polygon, photo.coin_mask)):
        assert poly is not None and mask is not None
        iou = _iou(_poly_mask(poly, 960, 1280), mask > 0.5)
        assert iou >= 0.98, iou


def test_determinism_and_seed_dependence():
    cfg = StudioConfig(width=200, height=150)
    a = render_photo(_sku(), 5, cfg)
    b = render_photo(_sku(), 5, cfg)
    c = render_photo(_sku(), 6, cfg)
    assert np.array_equal(a.image, b.image) and a.jpeg == b.jpeg and a.meta == b.meta
    assert not np.array_equal(a.image, c.image)


def test_ground_truth_geometry():
    cfg = StudioConfig(width=320, height=240, degrade=False, perspective=0.0, keep_masks=True)
    p = render_photo(_sku(length=40, d=5), 3, cfg)
    m = p.meta
    hx, hy = m["head_xy"]
    tx, ty = m["tip_xy"]
    length_px = np.hypot(hx - tx, hy - ty)
    assert length_px / m["px_per_mm"] == pytest.approx(40 + 0.7 * 5, rel=1e-3)  # pan head height 0.7 d
    assert m["coin"]["radius_px"] * 2 / m["px_per_mm"] == pytest.approx(m["coin"]["diameter_mm"], rel=2e-3)
    assert m["head_side"] == head_side_of(m["angle_deg"])
    # clockwise from image-up: the unit vector (sin a, -cos a) points from tip to head
    a = np.radians(m["angle_deg"])
    assert np.allclose([np.sin(a), -np.cos(a)], np.array([hx - tx, hy - ty]) / length_px, atol=1e-4)
    assert head_side_of(0) == "top" and head_side_of(90) == "right" and head_side_of(180) == "bottom"
    assert head_side_of(270) == "left" and head_side_of(359) == "top"


@pytest.mark.parametrize("head", ["pan", "flat", "eye", "hex"])
def test_overall_length_is_the_drawn_head_to_tip(head):
    from core.synth.profile import overall_length_mm

    cfg = StudioConfig(width=320, height=240, degrade=False, perspective=0.0)
    sku = _sku(head=head, length=30, d=4)
    m = render_photo(sku, 5, cfg).meta
    drawn = np.hypot(*(np.asarray(m["head_xy"]) - np.asarray(m["tip_xy"]))) / m["px_per_mm"]
    assert overall_length_mm(sku) == pytest.approx(drawn, rel=1e-3)
    assert (overall_length_mm(sku) == pytest.approx(30.0)) == (
        head == "flat"
    )  # countersunk: overall = nominal


def test_kinds_and_errors():
    cfg = StudioConfig(width=160, height=120, degrade=False)
    assert render_photo(None, 1, cfg, kind="coin").screw_polygon is None
    p = render_photo(_sku(), 1, cfg, kind="screw")
    assert p.coin_polygon is None and "coin" not in p.meta
    with pytest.raises(ConfigError, match="needs a SKU"):
        render_photo(None, 1, cfg)
    with pytest.raises(ConfigError, match="valid: screw_coin, screw, coin"):
        render_photo(_sku(), 1, cfg, kind="both")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="unknown coin"):
        StudioConfig(coin="peso")
    with pytest.raises(InputError, match="outside 32..2048"):
        thumbnail(_sku(), 8)


def test_labelme_json_passes_labelme_reader(tmp_path, catalog_db):
    from labelme._label_file import read_label_file

    metas = generate_dataset(
        tmp_path, 4, seed=1, mode="search", config=StudioConfig(width=160, height=120), catalog=catalog_db
    )
    assert len(metas) == 4
    for j in sorted(tmp_path.glob("*.json")):
        data = read_label_file(str(j))
        labels = [s["label"] for s in data.shapes]
        assert labels == ["screw", "coin"]
        attrs = data.shapes[0]["other_data"]["attributes"]
        assert set(attrs) == {"head", "finish", "tip", "thread", "sku", "length_mm", "diameter_mm"}
        fvw = data.other_data["fvw"]
        assert fvw["sku_id"] == attrs["sku"] and fvw["generator_version"]
        assert data.shapes[0]["group_id"] == 1
    # dataset generation is deterministic per index
    again = generate_dataset(
        tmp_path / "again",
        2,
        seed=1,
        mode="search",
        config=StudioConfig(width=160, height=120),
        catalog=catalog_db,
    )
    assert again == metas[:2]
    assert (tmp_path / "synth_000001.jpg").read_bytes() == (
        tmp_path / "again" / "synth_000001.jpg"
    ).read_bytes()


def test_train_mode_mix(tmp_path, catalog_db):
    metas = generate_dataset(
        tmp_path,
        30,
        seed=2,
        mode="train",
        config=StudioConfig(width=96, height=72, degrade=False),
        catalog=catalog_db,
    )
    kinds = [m["kind"] for m in metas]
    assert set(kinds) <= {"screw", "coin"} and kinds.count("screw") >= 20 and "coin" in kinds
    with pytest.raises(ConfigError, match="valid: search, train, short"):
        generate_dataset(tmp_path, 1, mode="mixed", catalog=catalog_db)


def test_write_label_json_is_atomic(tmp_path, monkeypatch):
    import os

    from core.errors import AnnotationError

    target = tmp_path / "a.json"
    target.write_text('{"old": true}')
    photo = render_photo(_sku(), 1, StudioConfig(width=96, height=72, degrade=False))
    label = to_labelme(photo, "a.png")

    def boom(*a, **k):
        raise OSError("disk full")

    with monkeypatch.context() as m:
        m.setattr(os, "replace", boom)
        with pytest.raises(AnnotationError, match="disk full"):
            write_label_json(target, label)
    assert json.loads(target.read_text()) == {"old": True}
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]
    write_label_json(target, label)
    assert json.loads(target.read_text())["fvw"] == photo.meta


def test_thumbnail_and_contact_sheet():
    t = thumbnail(_sku(head="hex", finish="brass"), (96, 64))
    assert t.shape == (64, 96, 3) and t.dtype == np.uint8
    assert (np.abs(t.astype(int) - t[0, 0].astype(int)).sum(-1) > 30).mean() > 0.05  # a screw is drawn
    photos = [render_photo(_sku(), i, StudioConfig(width=96, height=72)) for i in range(3)]
    sheet = contact_sheet(photos, cols=2, cell=(48, 36))
    assert sheet.shape == (2 * (36 + 18), 96, 3)


def test_ensure_default_dataset_and_cli(tmp_path, catalog_db, monkeypatch):
    from core.synth import ensure_default_dataset
    from core.synth.__main__ import main

    monkeypatch.setenv("FVW_RUNS", str(tmp_path / "runs"))
    root = ensure_default_dataset(tmp_path / "default", n=2)
    files = sorted(p.name for p in root.iterdir())
    assert files == ["synth_000000.jpg", "synth_000000.json", "synth_000001.jpg", "synth_000001.json"]
    mtime = (root / "synth_000000.json").stat().st_mtime_ns
    ensure_default_dataset(root, n=2)  # present: not regenerated
    assert (root / "synth_000000.json").stat().st_mtime_ns == mtime
    out = tmp_path / "cli"
    sheet = tmp_path / "sheet.png"
    args = ["--n", "2", "--out", str(out), "--width", "96", "--height", "72", "--catalog", str(catalog_db)]
    assert main([*args, "--mode", "train", "--contact-sheet", str(sheet)]) == 0
    assert len(list(out.glob("*.json"))) == 2 and sheet.stat().st_size > 0
    assert "| 1 |" in sheet.with_suffix(".md").read_text()
    assert main(["--n", "1", "--out", str(out), "--coin", "peso"]) == 2


@pytest.mark.slow
def test_default_dataset_under_30_s(tmp_path, monkeypatch):
    import time

    from core.synth import ensure_default_dataset

    monkeypatch.setenv("FVW_RUNS", str(tmp_path / "runs"))
    t0 = time.perf_counter()
    ensure_default_dataset(tmp_path / "default")
    assert time.perf_counter() - t0 < 30
    assert len(list((tmp_path / "default").glob("*.json"))) == 48


def _screw_mean(photo):
    m = photo.screw_mask > 0.9
    return photo.image[m].reshape(-1, 3).mean(0)


def test_finishes_differ_and_light_changes_appearance():
    cfg = StudioConfig(
        width=320, height=240, degrade=False, keep_masks=True, distractor_prob=0, finger_prob=0
    )
    # Same seed (same light) for every finish: the 15 finishes give distinct colours.
    means = np.array([_screw_mean(render_photo(_sku(finish=f, length=40, d=6), 11, cfg)) for f in FINISHES])
    dists = np.linalg.norm(means[:, None] - means[None], axis=-1)
    assert (dists[np.triu_indices(len(FINISHES), 1)] > 3).all()
    # One finish under different lights (colour temperature, intensity) looks different.
    brass = np.array(
        [_screw_mean(render_photo(_sku(finish="brass", length=40, d=6), s, cfg)) for s in range(6)]
    )
    chroma = brass / brass.sum(1, keepdims=True)
    assert np.ptp(chroma[:, 2]) > 0.03 and np.ptp(brass.sum(1)) > 40


def test_label_writer_fallback_without_annotation_layer(tmp_path, monkeypatch):
    import sys

    from labelme._label_file import read_label_file

    photo = render_photo(_sku(), 2, StudioConfig(width=96, height=72))
    (tmp_path / "a.jpg").write_bytes(photo.jpeg)
    monkeypatch.setitem(sys.modules, "core.annotation", None)  # import now raises ImportError
    write_label_json(tmp_path / "a.json", to_labelme(photo, "a.jpg"))
    data = read_label_file(str(tmp_path / "a.json"))
    assert data.other_data["fvw"] == photo.meta and data.shapes[0]["label"] == "screw"


@pytest.mark.timeout(120)
def test_two_workers_match_one_worker(tmp_path, catalog_db):
    import cv2

    cv2.GaussianBlur(np.zeros((256, 256), np.float32), (0, 0), 2.0)  # OpenCV's thread pool is running
    cfg = StudioConfig(width=96, height=72)
    one = generate_dataset(tmp_path / "one", 4, seed=3, config=cfg, catalog=catalog_db)
    two = generate_dataset(tmp_path / "two", 4, seed=3, config=cfg, workers=2, catalog=catalog_db)
    assert one == two
    assert (tmp_path / "one" / "synth_000003.jpg").read_bytes() == (
        tmp_path / "two" / "synth_000003.jpg"
    ).read_bytes()


def test_matching_indices_pick_photos_by_finish_and_background(tmp_path, catalog_db):
    """Hard cases for a training set: the photos of a dataset whose screw has a finish and whose background is a
    kind, found without rendering (``background_kind`` is the draw ``render_photo`` makes), written by the CLI
    under their own indices."""
    import json

    from core.catalog.catalog import load_arrays
    from core.synth.__main__ import main
    from core.synth.dataset import matching_indices, render_index
    from core.synth.render import background_kind

    arrays = load_arrays(catalog_db)
    tiny = StudioConfig(width=64, height=48)
    for i in range(6):
        photo = render_index(arrays, "search", 5, i, tiny)
        assert background_kind(photo.meta["seed"]) == photo.meta["background"]
    finish = FINISHES[0]
    idx = matching_indices(arrays, "search", 5, 3, finish=finish, background="gravel")
    assert len(idx) == 3 and idx == sorted(idx) and idx[-1] >= 3  # not simply the first three
    for i in idx:
        photo = render_index(arrays, "search", 5, i, tiny)
        assert photo.sku is not None and photo.sku.finish == finish and photo.meta["background"] == "gravel"
    assert matching_indices(arrays, "search", 5, 2) == [0, 1]  # no filter: the dataset itself
    with pytest.raises(ConfigError) as e:
        matching_indices(arrays, "search", 5, 1, finish="gold_leaf")
    assert e.value.field == "finish"
    with pytest.raises(ConfigError) as e:
        matching_indices(arrays, "search", 5, 1, background="moon")
    assert e.value.field == "background"
    with pytest.raises(ConfigError, match="ask for fewer"):
        matching_indices(arrays, "search", 5, 5, finish=finish, background="gravel", scan=20)

    out = tmp_path / "hard"
    args = ["--n", "2", "--seed", "5", "--out", str(out), "--width", "64", "--height", "48"]
    sheet = tmp_path / "hard.png"
    pick = ["--finish", finish, "--background", "gravel", "--contact-sheet", str(sheet)]
    assert main([*args, "--catalog", str(catalog_db), *pick]) == 0
    assert f"--finish {finish} --background gravel" in sheet.with_suffix(".md").read_text()
    names = sorted(p.stem for p in out.glob("*.json"))
    assert names == [f"synth_{i:06d}" for i in idx[:2]]
    for p in out.glob("*.json"):
        fvw = json.loads(p.read_text())["fvw"]
        assert fvw["background"] == "gravel"
    assert main([*args, "--catalog", str(catalog_db), "--background", "moon"]) == 2
