from __future__ import annotations

import numpy as np
import pytest

from core.errors import ConfigError, InputError
from core.redundancy.tiling import (
    TILING_FRACTION,
    TILING_METHODS,
    apply_tiling,
    apply_tiling_batch,
    tiling_mask,
)


def _img(h: int = 4, w: int = 4) -> np.ndarray:
    # Distinct grey levels 10, 20, ... so every changed pixel is visible; channels differ by +1, +2.
    base = (np.arange(h * w, dtype=np.uint8).reshape(h, w) + 1) * 10
    return np.stack([base, base + 1, base + 2], axis=-1).astype(np.uint8)


def test_ten_methods_and_fractions():
    assert len(TILING_METHODS) == 10
    assert TILING_FRACTION["DN"] == 0
    for m in ("MH", "MH0", "MH1"):
        assert TILING_FRACTION[m] == 0.25
    for m in ("CHB", "CHB0", "CHB1"):
        assert TILING_FRACTION[m] == 0.5
    for m in ("GRI", "GRI0", "GRI1"):
        assert TILING_FRACTION[m] == 0.75


def test_exact_changed_pixels_on_a_4x4_image():
    expected = {
        "MH": [[0, 0, 0, 0], [0, 1, 0, 1], [0, 0, 0, 0], [0, 1, 0, 1]],
        "CHB": [[0, 1, 0, 1], [1, 0, 1, 0], [0, 1, 0, 1], [1, 0, 1, 0]],
        "GRI": [[0, 1, 0, 1], [1, 1, 1, 1], [0, 1, 0, 1], [1, 1, 1, 1]],
    }
    img = _img()
    for base, want in expected.items():
        want_mask = np.array(want, dtype=bool)
        assert (tiling_mask(4, 4, base) == want_mask).all()
        for fill, value in (("0", 0), ("1", 255)):
            out = apply_tiling(img, base + fill)
            assert (out[want_mask] == value).all()
            assert (out[~want_mask] == img[~want_mask]).all()
        out = apply_tiling(img, base)
        mean = np.rint(img.reshape(-1, 3).astype(float).mean(0)).astype(np.uint8)  # [85, 86, 87]
        assert mean.tolist() == [85, 86, 87]
        assert (out[want_mask] == mean).all()
        assert (out[~want_mask] == img[~want_mask]).all()


def test_dn_is_unchanged_and_input_not_modified():
    img = _img()
    keep = img.copy()
    assert (apply_tiling(img, "DN") == img).all()
    apply_tiling(img, "GRI0")
    assert (img == keep).all()


def test_odd_size_and_grayscale():
    gray = np.full((3, 5), 100, dtype=np.uint8)
    out = apply_tiling(gray, "MH1")
    assert out.shape == (3, 5)
    assert out[1, 1] == 255 and out[1, 3] == 255 and out[0, 0] == 100 and out[2, 4] == 100
    assert int((out == 255).sum()) == 2


def test_batch_uses_each_images_own_mean():
    a = np.zeros((2, 2, 3), np.uint8)
    b = np.full((2, 2, 3), 200, np.uint8)
    b[0, 0] = 0  # mean 150
    out = apply_tiling_batch(np.stack([a, b]), "MH")
    assert out[0, 1, 1].tolist() == [0, 0, 0]
    assert out[1, 1, 1].tolist() == [150, 150, 150]


def test_bad_inputs():
    with pytest.raises(ConfigError, match="valid"):
        apply_tiling(_img(), "XYZ")
    with pytest.raises(InputError, match="uint8"):
        apply_tiling(_img().astype(np.float32), "MH")
    with pytest.raises(InputError):
        apply_tiling(np.zeros((2, 2, 2, 3), np.uint8), "MH")
