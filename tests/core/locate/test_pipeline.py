from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from core.attributes.data import INPUT_SIZE
from core.attributes.train import build_model
from core.catalog.geometry import HEAD_GEOMETRY
from core.catalog.taxonomy import HEADS, values_of
from core.checkpoints import save_checkpoint
from core.errors import CheckpointError, InputError, NoScrewFoundError
from core.interactive.clicks import first_click
from core.locate import LocateConfig, Locator, touches_border
from core.locate.head import HeadReader, load_head_reader
from core.locate.output import draw_overlay, write_result
from core.measure.head_allowance import save_head_allowance
from core.segment.data import studio_masks
from core.segment.predictor import Segmentation, check_image, clean_instances


class _TruthSegmenter:
    """Fake segmenter returning a photo's true masks, to test everything after segmentation exactly."""

    classes = ("screw", "coin")

    def __init__(self, screw: np.ndarray, coin: np.ndarray):
        self.screw, self.coin = screw, coin

    def predict(self, image: np.ndarray) -> Segmentation:
        check_image(image)
        probs = np.stack([self.screw, self.coin]).astype(np.float32)
        inst = {"screw": clean_instances(probs[0], 0.5, 12), "coin": clean_instances(probs[1], 0.5, 12)}
        return Segmentation(probs, self.classes, inst)


def _photos(pred, n: int = 1, width: int = 256, height: int = 192) -> list:
    """The first ``n`` studio ``search`` photos (seed 7) that satisfy ``pred``."""
    from core.catalog.catalog import load_arrays
    from core.synth import StudioConfig, render_index

    arrays, cfg, out = load_arrays(), StudioConfig(width=width, height=height), []
    for i in range(60):
        photo = render_index(arrays, "search", 7, i, cfg)
        if pred(photo):
            out.append(photo)
            if len(out) == n:
                return out
    raise AssertionError("no photo matched")


def _long_uncut(photo) -> bool:
    """A long screw with a wide head (the half-area head-side rule is reliable on those), whole, and a coin."""
    from core.catalog.geometry import HEAD_GEOMETRY

    screw, coin = studio_masks(photo)
    m = photo.meta
    return (
        bool(coin.any())
        and not touches_border(screw)
        and m["length_mm"] >= 4 * m["diameter_mm"]
        and HEAD_GEOMETRY[photo.sku.head].diameter >= 1.8
    )


def test_two_screws_each_reported_and_measured(tmp_path) -> None:
    a, b = _photos(_long_uncut, n=2)
    # Two photos side by side: two screws (and two coins; the largest coin gives the scale).
    image = np.hstack([a.image, b.image])
    masks = [np.hstack(pair) for pair in zip(studio_masks(a), studio_masks(b), strict=True)]
    coin = a.meta["coin"] if a.meta["coin"]["radius_px"] >= b.meta["coin"]["radius_px"] else b.meta["coin"]
    res = Locator(_TruthSegmenter(*masks), config=LocateConfig(coin=coin["type"])).locate(image)
    assert len(res.screws) == 2 and res.coin is not None
    assert res.coin.circle.r == pytest.approx(coin["radius_px"], rel=0.05)
    for got, photo, dx in ((s, p, 256 * (s.center[0] >= 256)) for s, p in _pair(res.screws, a, b)):
        assert abs((got.angle_deg - photo.meta["angle_deg"] + 180) % 360 - 180) < 3.0
        head, tip = np.asarray(photo.meta["head_xy"]), np.asarray(photo.meta["tip_xy"])
        assert got.length_px == pytest.approx(float(np.hypot(*(head - tip))), rel=0.1)
        assert got.center[0] - dx == pytest.approx((head[0] + tip[0]) / 2, abs=6.0)
        assert got.length_mm is not None and got.length_mm > 0
        # The std holds the mask's own error (size_rel_std, 0.12 by default), not only quantisation and scale.
        assert got.length_mm_std == pytest.approx(0.12 * got.length_mm, rel=0.05)
        assert got.diameter_mm is not None and got.diameter_mm_std == pytest.approx(
            0.12 * got.diameter_mm, rel=0.1
        )
    exact = Locator(_TruthSegmenter(*masks), config=LocateConfig(coin=coin["type"], size_rel_std=0.0)).locate(
        image
    )
    assert all(s.length_mm_std is not None and s.length_mm_std < 0.03 * s.length_mm for s in exact.screws)
    write_result(tmp_path, image, res)
    data = json.loads((tmp_path / "result.json").read_text())
    assert len(data["screws"]) == 2 and data["coin"]["px_per_mm"] > 0
    # the mean screw probability over each reported mask (truth masks: 1 inside; GrabCut may add a rim of 0s)
    want = [float(masks[0][s.mask].mean()) for s in res.screws]
    assert [d["mask_confidence"] for d in data["screws"]] == pytest.approx(want)
    assert min(want) > 0.9
    assert (tmp_path / "overlay.png").is_file() and (tmp_path / "screw0_head.png").is_file()


def _pair(screws, a, b):
    """Match each found screw to the photo (left ``a`` or right ``b``) it lies in."""
    return [(s, a if s.center[0] < 256 else b) for s in screws]


def test_no_coin_marks_sizes_unavailable_and_goes_on() -> None:
    (photo,) = _photos(_long_uncut)
    screw, coin = studio_masks(photo)
    res = Locator(_TruthSegmenter(screw, np.zeros_like(coin))).locate(photo.image)
    assert res.coin is None and "no coin" in (res.coin_reason or "")
    assert res.screws[0].length_mm is None and "no coin" in res.screws[0].reasons["length_mm"]
    assert res.screws[0].length_px > 0


def test_screw_cut_by_border_has_no_length() -> None:
    m = np.zeros((64, 64), bool)
    m[20:28, 0:40] = True  # runs off the left edge
    m[16:32, 36:44] = True  # head
    coin = np.zeros((64, 64), bool)
    ys, xs = np.mgrid[0:64, 0:64]
    coin[(xs - 50) ** 2 + (ys - 50) ** 2 <= 36] = True
    img = np.full((64, 64, 3), 128, np.uint8)
    res = Locator(_TruthSegmenter(m, coin)).locate(img)
    s = res.screws[0]
    assert s.cut_by_border and s.length_mm is None and "border" in s.reasons["length_mm"]
    assert s.diameter_mm is not None


def test_no_screw_and_tiny_image_raise_typed_errors() -> None:
    empty = np.zeros((64, 64), bool)
    with pytest.raises(NoScrewFoundError, match="no screw found"):
        Locator(_TruthSegmenter(empty, empty)).locate(np.zeros((64, 64, 3), np.uint8))
    with pytest.raises(InputError, match="too small"):
        Locator(_TruthSegmenter(empty, empty)).locate(np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(InputError, match="uint8"):
        check_image(np.zeros((32, 32, 3), np.float32))


def test_truth_masks_give_nominal_length_within_ten_percent() -> None:
    """Nominal length (under the head unless countersunk) from true masks and the coin: perspective and
    head-edge rounding leave a few percent; the overall extent would be off by the head height."""
    errs = []
    for photo in _photos(_long_uncut, n=6, width=512, height=384):
        screw, coin = studio_masks(photo)
        cfg = LocateConfig(coin=photo.meta["coin"]["type"])
        s = Locator(_TruthSegmenter(screw, coin), config=cfg).locate(photo.image).screws[0]
        assert s.length_mm is not None and s.head_px > 0
        errs.append(abs(s.length_mm - photo.meta["length_mm"]) / photo.meta["length_mm"])
    assert float(np.median(errs)) < 0.1, errs


def test_disc_shaped_coin_comes_first_and_max_coins_keeps_it_alone() -> None:
    ys, xs = np.mgrid[0:120, 0:200]
    disc = (xs - 50) ** 2 + (ys - 60) ** 2 <= 20**2  # the coin (r = 20 px)
    bar = np.zeros((120, 200), bool)
    bar[20:100, 120:190] = True  # a larger square blob the net also called "coin"
    screw = np.zeros((120, 200), bool)
    screw[55:61, 80:115] = True
    screw[50:66, 80:86] = True
    img = np.full((120, 200, 3), 100, np.uint8)
    res = Locator(_TruthSegmenter(screw, disc | bar), config=LocateConfig(max_coins=0)).locate(img)
    assert len(res.segmentation.instances["coin"]) == 2
    assert res.coin is not None and res.coin.circle.r == pytest.approx(20.5, abs=0.7)  # the disc, not the bar
    one = Locator(_TruthSegmenter(screw, disc | bar)).locate(img)  # default: the reference coin only
    (kept,) = one.segmentation.instances["coin"]
    assert (kept & disc).sum() / (kept | disc).sum() > 0.95


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"max_coins": -1}, "max_coins"),
        ({"square_aspect": 0.5}, "square_aspect"),
        ({"rotationnet_window_deg": 0.0}, "rotationnet_window_deg"),
        ({"size_rel_std": -0.1}, "size_rel_std"),
        ({"size_rel_std": 1.5}, "size_rel_std"),
        ({"click_reach": -0.1}, "click_reach"),
        ({"click_max_area": 0.0}, "click_max_area"),
        ({"click_verify_below": 1.5}, "click_verify_below"),
    ],
)
def test_bad_locate_config_is_a_config_error(kwargs, field) -> None:
    from core.errors import ConfigError

    with pytest.raises(ConfigError) as e:
        LocateConfig(**kwargs)
    assert e.value.field == field


@pytest.mark.parametrize(
    ("rn_angle", "direction", "expected"), [(175.0, True, 180.0), (175.0, False, 0.0), (10.0, True, 0.0)]
)
def test_rotationnet_picks_the_head_end_of_an_elongated_screw(
    monkeypatch, rn_angle, direction, expected
) -> None:
    """The rectangle gives the axis (vertical here), RotationNet which end is the head; its exact angle is not
    used on an elongated screw (175 deg -> 180, the axis)."""
    import core.pose.rotationnet as rot

    screw = np.zeros((120, 80), bool)
    screw[20:100, 35:45] = True
    screw[20:32, 28:52] = True  # wide head at the top: the half areas say "up" (0 deg)
    calls: list[int] = []
    monkeypatch.setattr(
        rot, "predict_probs", lambda model, image, mask: calls.append(1) or _rn_probs(rn_angle)
    )
    cfg = LocateConfig(rotationnet_direction=direction)
    image = np.zeros((120, 80, 3), np.uint8)
    res = Locator(_TruthSegmenter(screw, np.zeros_like(screw)), rotationnet=object(), config=cfg).locate(
        image
    )
    (s,) = res.screws
    assert abs((s.angle_deg - expected + 180) % 360 - 180) < 2.0
    assert s.angle_method == ("rectangle+rotationnet" if direction else "rectangle")
    assert len(calls) == (1 if direction else 0)  # not run when its answer would be thrown away


def test_with_config_keeps_the_models_and_matching_screw_needs_the_iou():
    from types import SimpleNamespace

    from core.locate import matching_screw

    seg, rn = object(), object()
    loc = Locator(seg, rn, LocateConfig(coin="euro_1"))  # type: ignore[arg-type]
    other = loc.with_config(coin="us_quarter", max_coins=2)
    assert other.segmenter is seg and other.rotationnet is rn
    assert (other.config.coin, other.config.max_coins) == ("us_quarter", 2) and loc.config.coin == "euro_1"

    truth = np.zeros((10, 10), bool)
    truth[2:6, 2:6] = True  # 16 px
    half = np.zeros_like(truth)
    half[2:6, 2:4] = True  # IoU 0.5
    most = np.zeros_like(truth)
    most[2:6, 2:5] = True  # IoU 0.75
    far = np.zeros_like(truth)
    far[8:, 8:] = True
    a, b, c = (SimpleNamespace(mask=m) for m in (half, most, far))
    assert matching_screw([a, c, b], truth) is b  # type: ignore[list-item]
    assert matching_screw([a, c], truth) is a  # type: ignore[list-item]
    assert matching_screw([a, c], truth, min_iou=0.6) is None  # type: ignore[list-item]
    assert matching_screw([], truth) is None


# Nominal length from the head type (core.locate.head)


def _tiny_head(path: Path) -> Path:
    torch.manual_seed(0)
    arch = {
        "kind": "timm",
        "attribute": "head",
        "num_classes": len(values_of("head")),
        "backbone": "lcnet_050",
        "input_size": list(INPUT_SIZE["head"]),
    }
    return save_checkpoint(path, build_model(arch), arch=arch)


def test_load_head_reader_defaults_paths_and_errors(tmp_path):
    # Nothing shipped under this models folder: no reader (the locator reads the mask).
    assert load_head_reader(models=tmp_path) is None
    with pytest.raises(CheckpointError, match="head_allowance"):
        load_head_reader(models=tmp_path, required=True)
    head = _tiny_head(tmp_path / "attributes" / "head.safetensors")
    with pytest.raises(CheckpointError, match="missing"):
        load_head_reader(head, tmp_path / "nope.json")  # a path given must exist
    table = np.linspace(0.0, 1.5, len(HEADS))
    save_head_allowance(tmp_path / "measure" / "head_allowance.json", table, np.ones(len(HEADS), int), "test")
    reader = load_head_reader(models=tmp_path)
    assert reader is not None and reader.input_name == "head"
    # a classifier of another taxonomy (here: the tip classes) is refused when loaded, not at the first photo
    torch.manual_seed(0)
    arch = {"kind": "timm", "num_classes": 12, "backbone": "lcnet_050", "input_size": list(INPUT_SIZE["tip"])}
    other = save_checkpoint(tmp_path / "tip.safetensors", build_model(arch), arch=arch)
    with pytest.raises(CheckpointError, match="one taxonomy"):
        load_head_reader(other, models=tmp_path)
    np.testing.assert_allclose(reader.allowance, table, atol=1e-4)


class _SureReader(HeadReader):
    """A head reader certain of one head type (what a perfect classifier would say)."""

    def __init__(self, head: str, allowance: np.ndarray):
        self.allowance, self.head = allowance, head
        self.calls = 0

    def probs(self, canonical):
        self.calls += 1
        p = np.zeros(len(HEADS))
        p[HEADS.index(self.head)] = 1.0
        return p


def test_locator_takes_the_expected_allowance_off_the_overall_length():
    photo = _photos(_long_uncut, n=1, width=512, height=384)[0]
    screw, coin = studio_masks(photo)
    cfg = LocateConfig(coin=photo.meta["coin"]["type"])
    plain = Locator(_TruthSegmenter(screw, coin), config=cfg).locate(photo.image).screws[0]
    assert plain.nominal_from == "mask"
    # The catalog's own head height as the allowance: what the head type says the head adds to the length.
    g = HEAD_GEOMETRY[photo.sku.head]
    allowance = np.array([0.0 if HEAD_GEOMETRY[h].countersunk else HEAD_GEOMETRY[h].height for h in HEADS])
    reader = _SureReader(photo.sku.head, allowance)
    s = Locator(_TruthSegmenter(screw, coin), config=cfg, head_reader=reader).locate(photo.image).screws[0]
    assert reader.calls == 1 and s.nominal_from == "head classifier"
    assert s.to_json()["nominal_from"] == "head classifier"
    expected_px = s.length_px - (0.0 if g.countersunk else g.height) * s.diameter_px
    assert s.length_mm == pytest.approx(expected_px / (s.length_px / s.overall_length_mm), rel=1e-6)
    assert abs(s.length_mm - photo.meta["length_mm"]) / photo.meta["length_mm"] < 0.1
    # A sure classifier adds no spread: the std is the mask's and the coin's, as before.
    assert s.length_mm_std == pytest.approx(plain.length_mm_std * s.length_mm / plain.length_mm, rel=0.05)
    # with_config keeps the reader
    assert (
        Locator(_TruthSegmenter(screw, coin), head_reader=reader).with_config(coin="euro_2").head_reader
        is reader
    )


def test_head_reader_runs_a_real_checkpoint_on_a_canonical_screw(tmp_path):
    head = _tiny_head(tmp_path / "head.safetensors")
    table = np.full(len(HEADS), 0.7)
    save_head_allowance(tmp_path / "a.json", table, np.ones(len(HEADS), int), "test")
    reader = load_head_reader(head, tmp_path / "a.json")
    assert reader is not None
    photo = _photos(_long_uncut, n=1, width=256, height=192)[0]
    screw, coin = studio_masks(photo)
    s = Locator(_TruthSegmenter(screw, coin), head_reader=reader).locate(photo.image).screws[0]
    p = reader.probs(s.canonical)
    assert p.shape == (len(HEADS),) and p.sum() == pytest.approx(1.0)
    # every head type has the same allowance here, so the nominal length is overall - 0.7 d exactly
    assert s.length_px - s.length_mm * (s.length_px / s.overall_length_mm) == pytest.approx(
        0.7 * s.diameter_px, rel=1e-6
    )


def test_locate_cli_reports_how_the_nominal_length_was_taken(tmp_path, capsys):
    import cv2

    from core.locate.__main__ import main

    photo = _photos(_long_uncut, n=1, width=512, height=384)[0]
    path = tmp_path / "photo.png"
    cv2.imwrite(str(path), cv2.cvtColor(photo.image, cv2.COLOR_RGB2BGR))
    coin = photo.meta["coin"]["type"]
    assert main([str(path), "--out", str(tmp_path / "a"), "--coin", coin]) == 0
    assert main([str(path), "--out", str(tmp_path / "b"), "--coin", coin, "--no-head-classifier"]) == 0
    a = json.loads((tmp_path / "a" / "result.json").read_text())
    b = json.loads((tmp_path / "b" / "result.json").read_text())
    assert {s["nominal_from"] for s in a["screws"]} == {"head classifier"}
    assert {s["nominal_from"] for s in b["screws"]} == {"mask"}
    # a head classifier path that does not exist is a user error with the file named, exit code 2
    assert (
        main(
            [str(path), "--out", str(tmp_path / "c"), "--head-classifier", str(tmp_path / "nope.safetensors")]
        )
        == 2
    )
    assert "nope.safetensors" in capsys.readouterr().err


def test_locate_cli_edgenet_flags(tmp_path, capsys):
    import cv2

    from core.locate.__main__ import main

    photo = _photos(_long_uncut, n=1, width=512, height=384)[0]
    path = tmp_path / "photo.png"
    cv2.imwrite(str(path), cv2.cvtColor(photo.image, cv2.COLOR_RGB2BGR))
    coin = photo.meta["coin"]["type"]
    assert main([str(path), "--out", str(tmp_path / "a"), "--coin", coin, "--no-edgenet"]) == 0
    assert json.loads((tmp_path / "a" / "result.json").read_text())["screws"]
    # an EdgeNet path that does not exist is a user error with the file named, exit code 2
    assert (
        main([str(path), "--out", str(tmp_path / "b"), "--edgenet", str(tmp_path / "nope.safetensors")]) == 2
    )
    assert "nope.safetensors" in capsys.readouterr().err
    # the same for the coin's edge model; without it the coin is still fitted (on the colour step)
    argv = [str(path), "--out", str(tmp_path / "d"), "--coin", coin, "--no-edgenet"]
    assert main([*argv, "--coin-edgenet", str(tmp_path / "gone.safetensors")]) == 2
    assert "gone.safetensors" in capsys.readouterr().err
    assert main([*argv, "--no-coin-edgenet"]) == 0
    assert json.loads((tmp_path / "d" / "result.json").read_text())["coin"]["px_per_mm"] > 0


def test_coin_outline_moves_onto_the_photos_edges() -> None:
    """A segmenter's coin 2 px too large and 1 px off: the locator's coin mask and scale come from the photo's
    edges (coin_edges) and are much closer to the truth than with the mask's own outline."""
    import cv2

    from core.catalog.coins import COINS

    (photo,) = _photos(_long_uncut, width=512, height=384)
    screw, coin = studio_masks(photo)
    fat = cv2.dilate(coin.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    fat = np.roll(fat, 1, axis=1)
    kind = photo.meta["coin"]["type"]
    true_ppm = 2 * photo.meta["coin"]["radius_px"] / COINS[kind]

    def run(edges: bool):
        cfg = LocateConfig(coin=kind, coin_edges=edges, refine_edges=False)
        res = Locator(_TruthSegmenter(screw, fat), config=cfg).locate(photo.image)
        m = res.segmentation.mask("coin")
        return res, float((m & coin).sum() / (m | coin).sum())

    off, iou_off = run(False)
    on, iou_on = run(True)
    assert off.coin is not None and on.coin is not None
    assert off.coin.ellipse is None and on.coin.ellipse is not None
    assert on.coin.circle.method == "ellipse on image edges"
    assert iou_on > 0.95 and iou_on > iou_off + 0.03
    assert abs(on.coin.px_per_mm / true_ppm - 1) < 0.02 < abs(off.coin.px_per_mm / true_ppm - 1)
    assert (
        on.to_json()["coin"]["ellipse"]["semi_axes_px"][0]
        >= on.to_json()["coin"]["ellipse"]["semi_axes_px"][1]
    )


def test_coin_edge_comes_from_the_coin_edgenet_when_there_is_one() -> None:
    """With a CoinEdgeNet the coin's ellipse is where the net puts the edge (here: a stand-in that moves every
    point 1 px outwards in each of its three passes, so the semi-axes grow by 3 px against a net that stays); a
    refused fit falls back to the colour step (``coin_edges_fallback``) or, without it, to the mask's circle."""
    import cv2

    from tests.core.measure.test_coin_edgenet import _constant_net

    (photo,) = _photos(_long_uncut, width=512, height=384)
    screw, coin = studio_masks(photo)
    fat = cv2.dilate(coin.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    cfg = LocateConfig(coin=photo.meta["coin"]["type"], refine_edges=False)

    def run(offset: float, fallback: bool = True):
        loc = Locator(_TruthSegmenter(screw, fat), config=replace(cfg, coin_edges_fallback=fallback))
        loc.coin_edgenet = _constant_net(offset)
        return loc.locate(photo.image).coin

    stay, grow = run(0.0), run(1.0)
    assert stay is not None and grow is not None and stay.ellipse is not None and grow.ellipse is not None
    assert grow.ellipse.a - stay.ellipse.a == pytest.approx(3.0, abs=0.15)
    assert grow.ellipse.b - stay.ellipse.b == pytest.approx(3.0, abs=0.15)
    assert grow.px_per_mm > stay.px_per_mm
    # 4 px per pass runs away (refused): the colour step's fit takes over, or the mask's circle without it
    classic = Locator(_TruthSegmenter(screw, fat), config=cfg).locate(photo.image).coin
    fell = run(4.0)
    assert (
        fell is not None and fell.ellipse is not None and classic is not None and classic.ellipse is not None
    )
    assert fell.ellipse.a == pytest.approx(classic.ellipse.a) and fell.ellipse.cx == pytest.approx(
        classic.ellipse.cx
    )
    plain = run(4.0, fallback=False)
    assert plain is not None and plain.ellipse is None


def test_coin_edgenet_also_starts_from_a_ragged_coin_blob() -> None:
    """A coin blob too ragged for the colour step (its ellipse's RMS over 1 px, as a 1280 px photo's coin drawn at
    512 px) keeps the mask's circle without a CoinEdgeNet, and is fitted on the photo's edges with one."""
    from core.measure import fit_ellipse
    from tests.core.measure.test_coin_edgenet import _constant_net

    (photo,) = _photos(_long_uncut, width=512, height=384)
    screw, coin = studio_masks(photo)
    ys, xs = np.nonzero(coin)
    cy, cx = ys.mean(), xs.mean()
    ragged = coin.copy()
    ang = np.arctan2(np.arange(coin.shape[0])[:, None] - cy, np.arange(coin.shape[1])[None] - cx)
    ragged[(np.sin(8 * ang) > 0.3) & (cv2.dilate(coin.astype(np.uint8), np.ones((7, 7), np.uint8)) > 0)] = (
        True
    )
    fit = fit_ellipse(ragged)
    assert fit is not None and fit.residual_rms > 1.0  # ragged: the colour step leaves it alone
    cfg = LocateConfig(coin=photo.meta["coin"]["type"], refine_edges=False, coin_disc=False)
    without = Locator(_TruthSegmenter(screw, ragged), config=cfg).locate(photo.image).coin
    assert without is not None and without.ellipse is None
    loc = Locator(_TruthSegmenter(screw, ragged), config=cfg)
    loc.coin_edgenet = _constant_net(0.0)
    found = loc.locate(photo.image).coin
    assert found is not None and found.ellipse is not None and found.circle.method == "ellipse on image edges"
    # a coin merged with something else (a finger beside it) is no ellipse to start from: the blob's circle stays
    merged = coin.copy()
    merged[int(cy) - 4 : int(cy) + 4, int(cx) : min(int(cx) + 120, coin.shape[1])] = True
    fit = fit_ellipse(merged)
    assert fit is not None and fit.residual_rms > cfg.coin_ragged_rms * fit.a
    loc = Locator(_TruthSegmenter(screw & ~merged, merged), config=cfg)
    loc.coin_edgenet = _constant_net(0.0)
    kept = loc.locate(photo.image).coin
    assert kept is not None and kept.ellipse is None


def _rn_probs(*peaks: tuple[float, float] | float) -> np.ndarray:
    """RotationNet's 72 bin probabilities with a peak (sd 5 deg) at each angle, or at each (angle, weight)."""
    centres = np.arange(72) * 5.0
    p = np.zeros(72)
    for peak in peaks:
        ang, w = peak if isinstance(peak, tuple) else (peak, 1.0)
        off = (centres - ang + 180.0) % 360.0 - 180.0
        p += w * np.exp(-0.5 * (off / 5.0) ** 2)
    return p / p.sum()


def _squat_screw(truth: float, size: int = 160) -> np.ndarray:
    """A short screw (aspect < 1.3) with a wide head, its tip->head direction at ``truth`` degrees."""
    m = np.zeros((size, size), np.uint8)
    c = size // 2
    m[c - 15 : c + 15, c - 10 : c + 10] = 1  # shank
    m[c - 25 : c - 15, c - 22 : c + 22] = 1  # wide head at the top
    turn = cv2.getRotationMatrix2D((c, c), -truth, 1.0)
    return cv2.warpAffine(m, turn, (size, size), flags=cv2.INTER_NEAREST).astype(bool)


@pytest.mark.parametrize("symmetry", [True, False])
def test_a_squat_screw_takes_its_axis_from_the_mirror_line_and_its_head_from_rotationnet(
    monkeypatch, symmetry
) -> None:
    """A short screw (aspect < square_aspect): with ``symmetry_below`` the axis is the mask's mirror line and
    RotationNet only says which end is the head (its 10-deg-off guess lands on the axis); without, its guess
    is the angle."""
    import core.pose.rotationnet as rot

    truth = 40.0
    screw = _squat_screw(truth)
    monkeypatch.setattr(rot, "predict_probs", lambda model, image, mask: _rn_probs(truth + 10.0))
    cfg = LocateConfig(symmetry_below=1.5 if symmetry else 0.0)
    res = Locator(_TruthSegmenter(screw, np.zeros_like(screw)), rotationnet=object(), config=cfg).locate(
        np.zeros(screw.shape + (3,), np.uint8)
    )
    (s,) = res.screws
    err = abs((s.angle_deg - truth + 180) % 360 - 180)
    if symmetry:
        assert err < 2.0 and s.angle_method == "symmetry+rotationnet"
    else:
        assert abs(err - 10.0) < 1.0 and s.angle_method == "rotationnet"


def test_rotationnet_picks_among_the_ends_of_the_mirror_line_and_the_rectangle(monkeypatch) -> None:
    """A squat screw's pose is the candidate direction (either end of the mirror line or of the rectangle's
    axis) RotationNet backs most, not RotationNet's own peak: a peak far off every candidate still has its tail
    choose; the head-side end wins when RotationNet backs none."""
    import core.pose.rotationnet as rot
    from core.pose.geometry import axis_from_mask

    truth = 40.0
    screw = _squat_screw(truth)
    rect = axis_from_mask(screw).axis_deg
    assert abs((rect - truth + 90) % 180 - 90) > 10  # the head tilts the rectangle off the axis
    seg = _TruthSegmenter(screw, np.zeros_like(screw))
    image = np.zeros(screw.shape + (3,), np.uint8)
    far = truth + 45.0  # 45 deg from the mirror line's ends, 35-55 from the rectangle's
    assert min(abs((far - a + 90) % 180 - 90) for a in (truth, rect)) > 30
    for probs, method, want in (
        (_rn_probs(truth + 180.0), "symmetry+rotationnet", truth + 180.0),  # the other end of the line
        (_rn_probs((far, 1.0), (truth, 0.05)), "symmetry+rotationnet", truth),  # the peak backs no candidate
        (_rn_probs(rect), "rectangle+rotationnet", rect),  # the rectangle's axis, when RotationNet says so
        (np.full(72, 1 / 72), "symmetry+rotationnet", truth),  # flat: the half areas' end of the line
    ):
        monkeypatch.setattr(rot, "predict_probs", lambda model, image, mask, p=probs: p)
        (s,) = Locator(seg, rotationnet=object(), config=LocateConfig()).locate(image).screws
        assert s.angle_method == method
        assert abs((s.angle_deg - want + 180) % 360 - 180) < 2.5, (s.angle_deg, want)


@pytest.mark.parametrize("taken_for_a_coin", [False, True])
def test_a_click_outlines_a_screw_the_segmenter_missed(taken_for_a_coin) -> None:
    """``taken_for_a_coin``: the segmenter's coin channel also marks the screw it missed (a copper screw on
    gravel, the app's first example): the click is on a coin blob, but not on the coin measured with, so it is
    no click on the coin."""
    (photo,) = _photos(_long_uncut, width=512, height=384)
    screw, coin = studio_masks(photo)
    coins = coin | screw if taken_for_a_coin else coin
    assert not (coin & screw).any()
    blind = Locator(
        _TruthSegmenter(np.zeros_like(screw), coins), config=LocateConfig(coin=photo.meta["coin"]["type"])
    )
    with pytest.raises(NoScrewFoundError):
        blind.locate(photo.image)
    res = blind.locate(photo.image, click=first_click(screw))
    (s,) = res.screws
    assert (s.mask & screw).sum() / (s.mask | screw).sum() > 0.75
    head, tip = np.asarray(photo.meta["head_xy"]), np.asarray(photo.meta["tip_xy"])
    assert s.length_px == pytest.approx(float(np.hypot(*(head - tip))), rel=0.1)
    assert s.length_mm is not None and res.coin is not None  # measured with the coin the segmenter found
    assert s.verify_score is None  # the person vouches for it
    assert res.click == first_click(screw) and res.to_json()["click"] == list(first_click(screw))
    x, y = (int(v) for v in first_click(screw))
    assert (draw_overlay(photo.image, res)[y, x] == (255, 0, 255)).all()  # the click's cross on the overlay


def test_a_click_picks_the_blob_there_when_nothing_stands_out_and_refuses_empty_points_and_the_coin() -> None:
    img = np.full((96, 128, 3), 128, np.uint8)  # no contrast: the click backend cuts nothing
    blob = np.zeros((96, 128), bool)
    blob[40:48, 20:100] = True
    other = np.zeros((96, 128), bool)
    other[80:90, 100:120] = True
    loc = Locator(_TruthSegmenter(blob | other, np.zeros_like(blob)), config=LocateConfig(refine_edges=False))
    assert len(loc.locate(img).screws) == 2
    (s,) = loc.locate(img, click=(60.5, 49.5)).screws  # one pixel off the bar: within click_reach
    assert (s.mask == blob).all()
    with pytest.raises(NoScrewFoundError, match="clicked point"):
        loc.locate(img, click=(10.0, 10.0))
    coin = np.zeros_like(blob)
    coin[5:25, 5:25] = True
    with pytest.raises(NoScrewFoundError, match="on the coin"):
        Locator(_TruthSegmenter(blob, coin)).locate(img, click=(15.0, 15.0))
    noise = np.random.default_rng(0).integers(0, 256, (96, 128, 3), dtype=np.uint8)
    with pytest.raises(NoScrewFoundError, match="too large"):
        Locator(_TruthSegmenter(np.zeros_like(blob), np.zeros_like(blob))).locate(noise, click=(64.0, 48.0))


@pytest.mark.parametrize(
    "click, words",
    [((128.0, 5.0), "outside the 128x96 photo"), ((-1, 5), "outside"), (("a", 1), "two numbers")],
)
def test_a_click_outside_the_photo_or_not_a_pixel_is_an_input_error(click, words) -> None:
    empty = np.zeros((96, 128), bool)
    with pytest.raises(InputError, match=words):
        Locator(_TruthSegmenter(empty, empty)).locate(np.zeros((96, 128, 3), np.uint8), click=click)


def test_parse_click() -> None:
    from core.locate import parse_click

    assert parse_click("412,230.5") == (412.0, 230.5)
    for bad in ("412", "a,b", "1,2,3", ""):
        with pytest.raises(InputError, match="X,Y"):
            parse_click(bad)


def test_a_clicked_cut_the_verifier_refuses_gives_way_to_the_blob_at_the_click(monkeypatch) -> None:
    import core.segment.verify as verify

    img = np.full((96, 128, 3), 200, np.uint8)
    img[44:52, 20:100] = 30  # a dark bar the click backend cuts
    blob = np.zeros((96, 128), bool)
    blob[40:56, 16:104] = True  # the segmenter's (wider) blob around it
    monkeypatch.setattr(verify, "verify_blobs", lambda model, image, prob, masks: [0.05] * len(masks))
    cfg = LocateConfig(refine_edges=False)
    loc = Locator(_TruthSegmenter(blob, np.zeros_like(blob)), config=cfg, verifier=object())
    (s,) = loc.locate(img, click=(60.5, 48.5)).screws
    assert (s.mask == blob).all()  # the verifier was sure the cut is no screw: the blob serves
    loc = Locator(_TruthSegmenter(blob, np.zeros_like(blob)), config=replace(cfg, click_verify_below=0.0))
    loc.verifier = object()
    (s,) = loc.locate(img, click=(60.5, 48.5)).screws
    assert s.mask.sum() < blob.sum() and s.mask[48, 60]  # the rule off: the cut
    # no blob at the click: the refused cut is still the answer (a screw the segmenter does not see at all)
    empty = np.zeros_like(blob)
    loc = Locator(_TruthSegmenter(empty, empty), config=cfg, verifier=object())
    (s,) = loc.locate(img, click=(60.5, 48.5)).screws
    assert s.mask[48, 60] and s.mask.sum() < blob.sum()


def test_the_overlay_outlines_the_holes_of_a_screw_mask() -> None:
    """An eye bolt's ring keeps its hole (``LocateConfig.edgenet_min_hole``); the overlay draws the hole's outline
    too, since the polygon is the outer outline only."""
    from dataclasses import replace

    disc = np.zeros((96, 128), bool)
    cv2.circle(disc.view(np.uint8), (64, 48), 30, 1, -1)
    img = np.full((96, 128, 3), 128, np.uint8)
    res = Locator(_TruthSegmenter(disc, np.zeros_like(disc)), config=LocateConfig(refine_edges=False)).locate(
        img
    )
    hole = np.zeros_like(disc)
    cv2.circle(hole.view(np.uint8), (64, 48), 10, 1, -1)
    ring = replace(res, screws=[replace(res.screws[0], mask=disc & ~hole)])
    plain, holed = draw_overlay(img, res), draw_overlay(img, ring)
    changed = (plain != holed).any(axis=2)
    ys, xs = np.nonzero(changed)
    along_the_hole = np.abs(np.hypot(ys - 48, xs - 64) - 10.5) <= 2
    assert len(ys) > 0 and along_the_hole.all()
