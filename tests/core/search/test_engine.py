"""The real pipeline engine, end to end on a studio photo, with an oracle segmenter and tiny classifiers.

The segmenter is replaced by one that returns the studio's exact masks, so what is tested here is the
engine's own work: pose, crops, classifier plumbing, measurement, ranking and the evidence it returns.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from core.attributes.train import build_model
from core.catalog.catalog import load_arrays
from core.catalog.taxonomy import ATTRIBUTES
from core.errors import InputError, NoScrewFoundError
from core.locate import LocateConfig, Locator
from core.search.engine import PipelineEngine
from core.segment.predictor import Segmentation
from core.synth.dataset import render_index
from core.synth.render import StudioConfig


def _mask(poly: np.ndarray | None, h: int, w: int) -> np.ndarray:
    m = np.zeros((h, w), np.uint8)
    if poly is not None:
        cv2.fillPoly(m, [np.round(poly).astype(np.int32)], 1)
    return m.astype(bool)


class _OracleSegmenter:
    def __init__(self, screw: np.ndarray, coin: np.ndarray) -> None:
        self.screw, self.coin = screw, coin

    def predict(self, image: np.ndarray) -> Segmentation:
        inst = {
            "screw": [self.screw] if self.screw.any() else [],
            "coin": [self.coin] if self.coin.any() else [],
        }
        probs = np.stack([self.screw, self.coin]).astype(np.float32)
        return Segmentation(probs=probs, classes=("screw", "coin"), instances=inst)


@pytest.fixture(scope="module")
def scene():
    arrays = load_arrays()
    photo = render_index(arrays, "search", 4242, 0, StudioConfig(width=640, height=480))
    h, w = photo.image.shape[:2]
    return arrays, photo, _mask(photo.screw_polygon, h, w), _mask(photo.coin_polygon, h, w)


def _engine(arrays, screw, coin, attrs=("head", "tip", "thread", "finish")):
    classifiers = {}
    for a in attrs:
        kind = "colornet" if a == "finish" else "timm"
        classifiers[a] = build_model(
            {"kind": kind, "num_classes": len(ATTRIBUTES[a]), "backbone": "lcnet_050", "width": 8}
        )
    loc = Locator(_OracleSegmenter(screw, coin), None, LocateConfig())
    return PipelineEngine(loc, classifiers, arrays)


def test_search_returns_ranked_skus_with_evidence(scene):
    arrays, photo, screw, coin = scene
    eng = _engine(arrays, screw, coin)
    res = eng.search(photo.image, coin=photo.meta["coin"]["type"], k=7)
    assert len(res.matches) == 7
    assert [m.score for m in res.matches] == sorted((m.score for m in res.matches), reverse=True)
    assert set(res.attributes) == {"head", "tip", "thread", "finish"}
    assert all(len(v) == 3 for v in res.attributes.values())
    assert res.overlay.shape == photo.image.shape
    assert {"head", "tip", "thread", "finish", "canonical"} <= set(res.crops)
    # Exact masks + the right coin: the measured length is close to the SKU's (head to tip).
    sku = photo.sku
    assert res.length_mm is not None and res.coin is not None
    assert res.length_mm == pytest.approx(sku.length_mm + 0.7 * sku.diameter_mm, rel=0.12)
    # head to tip is the nominal length plus the head (or equal, for a countersunk head)
    assert res.overall_length_mm is not None and res.overall_length_mm >= res.length_mm - 1e-6
    # the coin's outline was fitted on the photo's edges; the studio tilts its camera by a few degrees
    assert res.coin["fit"] == "ellipse on image edges" and 0.0 <= res.coin["tilt_deg"] < 30.0
    js = res.to_json()
    assert js["overall_length_mm"] == res.overall_length_mm
    assert js["matches"][0]["sku"] == res.matches[0].sku
    assert eng.thumbnail(res.matches[0].sku, 64).shape == (64, 64, 3)


def test_a_click_answers_for_the_screw_there_and_marks_the_point(scene):
    arrays, photo, screw, coin = scene
    blind = _engine(arrays, np.zeros_like(screw), coin)  # a segmenter that misses the screw
    with pytest.raises(NoScrewFoundError):
        blind.search(photo.image, coin=photo.meta["coin"]["type"])
    from core.interactive.clicks import first_click

    cx, cy = first_click(screw)
    x, y = int(cx), int(cy)
    res = blind.search(photo.image, coin=photo.meta["coin"]["type"], k=3, click=(cx, cy))
    assert res.clicked and len(res.matches) == 3 and res.length_mm is not None
    got = _mask(np.asarray(res.polygon, np.float64), *screw.shape)
    # the offline cut alone (no EdgeNet in this engine) outlines this screw roughly (IoU 0.58), around the click
    assert (got & screw).sum() / (got | screw).sum() > 0.5 and got[y, x]
    assert (res.overlay[y, x] == (255, 0, 255)).all()  # the click's marker
    assert res.to_json()["clicked"] is True and res.to_json()["polygon"] == res.polygon


def test_missing_classifier_and_no_coin_are_warnings(scene):
    arrays, photo, screw, _ = scene
    eng = _engine(arrays, screw, np.zeros_like(screw), attrs=("head", "tip"))
    res = eng.search(photo.image, k=3)
    assert res.length_mm is None and res.coin is None
    text = " ".join(res.warnings)
    assert "thread" in text and "finish" in text and "coin" in text


def test_no_screw_and_bad_coin(scene):
    arrays, photo, _, coin = scene
    eng = _engine(arrays, np.zeros_like(coin), coin)
    with pytest.raises(NoScrewFoundError):
        eng.search(photo.image)
    with pytest.raises(InputError, match="valid coins"):
        eng.search(photo.image, coin="doubloon")


class _TwoBlobSegmenter:
    """The true screw at probability 0.95 and a larger 'pen' elsewhere at 0.6 (a distractor)."""

    def __init__(self, screw: np.ndarray, pen: np.ndarray, coin: np.ndarray) -> None:
        self.screw, self.pen, self.coin = screw, pen, coin

    def predict(self, image: np.ndarray) -> Segmentation:
        probs = np.stack([0.95 * self.screw + 0.6 * self.pen, self.coin]).astype(np.float32)
        inst = {"screw": [self.pen, self.screw], "coin": [self.coin]}
        return Segmentation(probs=probs, classes=("screw", "coin"), instances=inst)


def test_engine_ranks_the_confident_screw_not_the_larger_doubtful_pen(scene):
    arrays, photo, screw, coin = scene
    h, w = screw.shape
    pen = np.zeros_like(screw)
    ys, xs = np.nonzero(screw)
    # A pen larger than the screw, away from it and from the coin.
    free = [
        (r, c)
        for r in (0, h // 2)
        for c in (0, w // 2)
        if not (screw | coin)[r : r + h // 2, c : c + w // 2].any()
    ]
    assert free, "the scene leaves one quarter of the photo empty"
    r, c = free[0]
    pen[r + 20 : r + 20 + 30, c + 10 : c + w // 2 - 10] = True
    assert pen.sum() > screw.sum()
    classifiers = {
        "head": build_model({"kind": "timm", "num_classes": 32, "backbone": "lcnet_050", "width": 8})
    }
    eng = PipelineEngine(
        Locator(_TwoBlobSegmenter(screw, pen, coin), None, LocateConfig()), classifiers, arrays
    )
    res = eng.search(photo.image, coin=photo.meta["coin"]["type"], k=3)
    cfg = LocateConfig(coin=photo.meta["coin"]["type"])
    true_len = Locator(_OracleSegmenter(screw, coin), None, cfg).locate(photo.image).screws[0].length_mm
    assert res.length_mm == pytest.approx(true_len)
    assert any("2 screws found" in x and "most screw-like" in x for x in res.warnings)


class _Spy(torch.nn.Module):
    """A classifier that records every batch it is given and answers uniform logits."""

    def __init__(self, attribute: str):
        super().__init__()
        self.classes = len(ATTRIBUTES[attribute])
        self.seen: list[torch.Tensor] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen.append(x.detach().clone())
        return torch.zeros((x.shape[0], self.classes))


def test_finish_reads_the_coin_balanced_crop_when_its_model_asks(scene):
    """A finish model trained on ``finish_wb`` gets the crop white-balanced by the photo's coin."""
    from core.attributes.colour import balance_gains, coin_rgb
    from core.attributes.data import crops_from_canonical

    arrays, photo, screw, coin = scene
    loc = Locator(_OracleSegmenter(screw, coin), None, LocateConfig())
    coin_type = photo.meta["coin"]["type"]
    for key in ("finish", "finish_wb"):
        spy = _Spy("finish")
        eng = PipelineEngine(loc, {"finish": spy}, arrays, inputs={"finish": key})
        res = eng.search(photo.image, coin=coin_type, k=3)
        located = loc.locate(photo.image)
        s = located.screws[0]
        gains = balance_gains(coin_rgb(photo.image, located.segmentation.instances["coin"][0]), coin_type)
        want = crops_from_canonical(s.canonical, gains).as_dict()[key]
        from core.attributes.train import to_tensor

        assert torch.allclose(
            spy.seen[0][:1], to_tensor(want[None])
        )  # the crop, then its mirror (mirror_tta)
        assert torch.allclose(spy.seen[0][1:], to_tensor(want[None, :, ::-1].copy()))
        assert ("finish_wb" in res.crops) and not np.array_equal(res.crops["finish_wb"], res.crops["finish"])
    # no coin: the plain crop, and the answer says the colour reference is missing
    eng = PipelineEngine(
        Locator(_OracleSegmenter(screw, np.zeros_like(coin)), None, LocateConfig()),
        {"finish": _Spy("finish")},
        arrays,
        inputs={"finish": "finish_wb"},
    )
    res = eng.search(photo.image, coin=coin_type, k=3)
    assert any("colour reference" in w for w in res.warnings) and "finish_wb" not in res.crops


def test_a_confident_fragment_does_not_beat_the_whole_screw():
    """``most_screw_like``: confidence^8 x area. Fragments of the screw and slivers lose to the screw; a doubtful
    blob many times larger still loses to a confident screw."""
    from types import SimpleNamespace

    from core.search.engine import most_screw_like

    def blob(p: float, area: int) -> SimpleNamespace:
        m = np.zeros(area + 10, bool)
        m[:area] = True
        return SimpleNamespace(mask_confidence=p, mask=m)

    # a validation photo (seed 4,600,000, #184): the whole screw at 0.65, two bits of its head at 0.80 / 0.94
    whole = blob(0.649, 42877)
    assert most_screw_like([blob(0.799, 750), blob(0.936, 337), whole]) is whole
    screw, sliver = blob(0.95, 2000), blob(0.99, 30)
    assert most_screw_like([sliver, blob(0.6, 9000), screw]) is screw
    assert most_screw_like([blob(0.6, 40000), screw]) is screw  # 20 times larger but doubtful
    with pytest.raises(NoScrewFoundError):
        most_screw_like([])


class _LeftRight(torch.nn.Module):
    """Logits from the left half's and the right half's brightness: a mirror swaps them."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = x.shape[-1]
        left, right = x[..., : w // 2].mean((1, 2, 3)), x[..., w // 2 :].mean((1, 2, 3))
        return torch.stack([10 * left, 10 * right], 1)


def test_mirror_tta_averages_the_crop_and_its_mirror(scene):
    arrays, *_ = scene
    crop = np.zeros((1, 8, 8, 3), np.uint8)[0]
    crop[:, :4] = 255  # bright left half
    eng = PipelineEngine(
        Locator(None, None, LocateConfig()), {"head": _LeftRight()}, arrays, mirror_tta=False
    )
    p = eng._probs({"head": crop})["head"]
    assert p[0] > 0.99
    eng.mirror_tta = True
    p = eng._probs({"head": crop})["head"]
    assert p == pytest.approx([0.5, 0.5])


def test_probabilities_are_averaged_over_the_extra_views(scene):
    arrays, *_ = scene
    left = np.zeros((8, 8, 3), np.uint8)
    left[:, :4] = 255
    right = np.ascontiguousarray(left[:, ::-1])
    eng = PipelineEngine(
        Locator(None, None, LocateConfig()), {"head": _LeftRight()}, arrays, mirror_tta=False
    )
    assert eng._probs({"head": left})["head"][0] > 0.99
    assert eng._probs({"head": left}, {"head": right})["head"] == pytest.approx([0.5, 0.5])


def test_search_reads_the_crops_of_every_view(scene):
    arrays, photo, screw, coin = scene
    spy = _Spy("head")
    loc = Locator(_OracleSegmenter(screw, coin), None, LocateConfig(view_reaches=(0.0, 2.0)))
    PipelineEngine(loc, {"head": spy}, arrays).search(photo.image, coin=photo.meta["coin"]["type"], k=3)
    assert spy.seen[0].shape[0] == 6  # the main crop and two views, each with its mirror


def test_a_screw_the_verifier_doubts_is_answered_with_a_warning(scene):
    from core.segment.verify import ScrewVerifier, VerifierArch

    class _Doubtful(ScrewVerifier):
        def __init__(self, logit: float):
            super().__init__(VerifierArch(channels=4))
            self.logit = logit

        def forward(self, x, scalars):
            return torch.full((x.shape[0],), self.logit)

    arrays, photo, screw, coin = scene
    coin_type = photo.meta["coin"]["type"]
    eng = _engine(arrays, screw, coin)
    for logit, warned in ((-2.0, True), (2.0, False)):
        eng.locator.verifier = _Doubtful(logit)
        res = eng.search(photo.image, coin=coin_type, k=3)
        assert len(res.matches) == 3  # the only blob is kept and ranked either way
        assert any("verifier doubts" in w for w in res.warnings) == warned


def test_nominal_length_comes_off_the_overall_by_the_head_probabilities(scene):
    from core.search.scoring import ScoringConfig

    arrays, photo, screw, coin = scene
    base = _engine(arrays, screw, coin)
    n_heads = len(ATTRIBUTES["head"])
    coin_type = photo.meta["coin"]["type"]
    # One allowance for every head type: nominal = overall - 0.5 d, whatever the classifier says.
    flat = PipelineEngine(
        base.locator, base.classifiers, arrays, ScoringConfig(head_allowance=[0.5] * n_heads)
    )
    res = flat.search(photo.image, coin=coin_type, k=3)
    assert res.overall_length_mm is not None and res.diameter_mm is not None
    assert res.length_mm == pytest.approx(res.overall_length_mm - 0.5 * res.diameter_mm)
    assert res.length_sigma_mm == pytest.approx(res.overall_length_sigma_mm)
    # Heads disagreeing (0 or 1 d) and an untrained classifier: between the two, with their spread in the sigma.
    split = [0.0, 1.0] * (n_heads // 2)
    eng = PipelineEngine(base.locator, base.classifiers, arrays, ScoringConfig(head_allowance=split))
    res2 = eng.search(photo.image, coin=coin_type, k=3)
    assert res2.overall_length_mm - res2.diameter_mm < res2.length_mm < res2.overall_length_mm
    assert res2.length_sigma_mm > res2.overall_length_sigma_mm


def test_example_set_knows_each_photos_coin_and_renders_only_once(tmp_path, monkeypatch):
    import core.synth.dataset as dataset
    from core.search.engine import example_set

    monkeypatch.setenv("FVW_RUNS", str(tmp_path))
    (ex,) = example_set(1)
    truth = render_index(load_arrays(), "search", 777, 0, StudioConfig(width=1280, height=960))
    assert ex.coin == truth.meta["coin"]["type"] and truth.sku is not None
    assert ex.label.startswith(
        f"{truth.sku.id}, {truth.meta['length_mm']:g} mm, {truth.meta['background']} background"
    )

    def no_render(*a, **k):
        raise AssertionError("rendered again")

    monkeypatch.setattr(dataset, "render_index", no_render)
    assert example_set(1) == [ex]  # read back from the cache
    meta = tmp_path / "cache" / "search-examples" / "example_0.json"
    meta.write_text("{not json")  # a broken cache file is rendered again, not an error
    monkeypatch.undo()
    monkeypatch.setenv("FVW_RUNS", str(tmp_path))
    assert example_set(1) == [ex]
