from __future__ import annotations

import threading

import cv2
import numpy as np
import pytest

from core.errors import InputError
from core.interactive import (
    EmbeddingCache,
    Prompt,
    SuperpixelBackend,
    clicks_to_iou,
    iou,
    next_click,
)


def _scene(h=240, w=320, seed=0):
    """A bright screw-like bar with slanted thread lines on a noisy background, and its mask."""
    rng = np.random.default_rng(seed)
    img = cv2.GaussianBlur(rng.integers(90, 170, (h, w, 3)).astype(np.uint8), (0, 0), 1.5)
    gt = np.zeros((h, w), np.uint8)
    cv2.rectangle(gt, (100, 110), (250, 130), 1, -1)
    cv2.circle(gt, (95, 120), 18, 1, -1)
    img[gt > 0] = (205, 200, 210)
    for x in range(110, 250, 6):
        cv2.line(img, (x, 110), (x + 3, 130), (160, 160, 170), 1)
    return img, gt.astype(bool)


def test_one_click_selects_the_object():
    img, gt = _scene()
    backend = SuperpixelBackend()
    emb = backend.embed(img)
    mask = backend.predict(emb, Prompt(((180.0, 120.0),), (1,)))
    assert mask.shape == gt.shape and mask.dtype == bool
    assert iou(mask, gt) > 0.85


def test_negative_click_and_box_restrict_the_mask():
    img, gt = _scene()
    backend = SuperpixelBackend()
    emb = backend.embed(img)
    box = (150.0, 100.0, 260.0, 140.0)  # cuts off the head
    mask = backend.predict(emb, Prompt(((200.0, 120.0),), (1,), box))
    assert not mask[:, :149].any()
    assert mask[120, 200]


def test_empty_prompt_gives_empty_mask():
    img, _ = _scene()
    backend = SuperpixelBackend()
    assert not backend.predict(backend.embed(img), Prompt()).any()


def test_simulated_clicks_reach_target():
    img, gt = _scene()
    backend = SuperpixelBackend()
    res = clicks_to_iou(backend, backend.embed(img), gt, target=0.85, max_clicks=5)
    assert res.reached and res.clicks <= 3
    assert len(res.click_ms) == res.clicks


def test_next_click_protocol():
    gt = np.zeros((20, 20), bool)
    gt[5:15, 5:15] = True
    (x, y), lab = next_click(np.zeros_like(gt), gt)
    assert lab == 1 and 8 <= x <= 11 and 8 <= y <= 11  # the deepest interior point
    pred = gt.copy()
    pred[0:4, 0:20] = True  # spill-over band
    (_, y2), lab2 = next_click(pred, gt)
    assert lab2 == 0 and y2 < 4
    assert next_click(gt, gt) is None


@pytest.mark.parametrize(
    "bad, match",
    [
        (np.zeros((10, 10), np.uint8), "RGB"),
        (np.zeros((10, 10, 3), np.float32), "uint8"),
        (np.zeros((4, 4, 3), np.uint8), "too small"),
        ([[1, 2]], "numpy"),
    ],
)
def test_bad_images_are_explained(bad, match):
    with pytest.raises(InputError, match=match):
        SuperpixelBackend().embed(bad)


def test_prompt_validation():
    with pytest.raises(InputError, match="one label per click"):
        Prompt(((1.0, 2.0),), ())
    with pytest.raises(InputError, match="XYXY"):
        Prompt(box=(5.0, 5.0, 1.0, 1.0))
    p = Prompt().add((1, 2), 1).add((3, 4), 0)
    assert p.labels == (1, 0) and p.points_array().shape == (2, 2)


def test_cache_is_bounded_and_prefetch_is_not_recomputed():
    img, _ = _scene()
    calls = []
    lock = threading.Lock()

    def loader(i):
        def load():
            with lock:
                calls.append(i)
            return img

        return load

    cache = EmbeddingCache(SuperpixelBackend(), capacity=2)
    fut = cache.prefetch("a", loader("a"))
    fut.result()
    cache.get("a", loader("a"))  # served from the prefetch
    cache.get("b", loader("b"))
    cache.get("c", loader("c"))  # evicts "a"
    assert calls == ["a", "b", "c"] and len(cache) == 2 and "a" not in cache
    assert cache.prefetch("c", loader("c")) is None
    cache.close()
