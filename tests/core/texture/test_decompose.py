from __future__ import annotations

import numpy as np
import pytest

from core.errors import ConfigError, InputError
from core.texture import METHODS, decompose, structure_of, texture_to_uint8
from core.texture.__main__ import main


def _photo(h: int = 24, w: int = 32) -> np.ndarray:
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:h, :w]
    base = np.where(xx > w // 2, 180, 60)[..., None] + np.array([0, 20, 40])
    tex = ((xx + yy) % 4 < 2)[..., None] * 30 + rng.integers(0, 10, (h, w, 1))
    return np.clip(base + tex, 0, 255).astype(np.uint8)


@pytest.mark.parametrize("method", sorted(METHODS))
def test_every_method_gives_structure_plus_texture_equal_to_image(method):
    dec = decompose(_photo(), method, **({"device": "cpu"} if method == "rtv" else {}))
    assert dec.structure.shape == dec.image.shape == (24, 32, 3)
    np.testing.assert_allclose(dec.structure + dec.texture, dec.image, atol=1e-6)
    # the smooth layer varies less than the image inside the flat left half
    assert dec.structure[:, 2:12].std() < dec.image[:, 2:12].std()


@pytest.mark.parametrize("method", sorted(METHODS))
def test_gray_images_work(method):
    gray = _photo()[..., 0]
    s = structure_of(gray, method)
    assert s.shape == (24, 32, 1)


def test_bad_inputs():
    with pytest.raises(InputError, match="too small"):
        decompose(np.zeros((5, 5, 3), np.uint8))
    with pytest.raises(InputError, match=r"\[0, 1\]"):
        decompose(np.full((16, 16, 3), 3.0))
    with pytest.raises(InputError, match="shape"):
        decompose(np.zeros((16, 16, 4), np.uint8))
    with pytest.raises(ConfigError, match="valid methods"):
        decompose(_photo(), "nope")
    with pytest.raises(ConfigError, match="lambda"):
        decompose(_photo(), "rtv", lam=1.5)
    with pytest.raises(ConfigError, match="bad parameters"):
        decompose(_photo(), "l0", sigma=3)


def test_texture_display_is_centered_gray():
    t = np.zeros((2, 2, 3), np.float32)
    assert (texture_to_uint8(t) == 128).all()
    assert (texture_to_uint8(t + 1.0) == 255).all()


def test_cli_writes_structure_and_texture(tmp_path):
    from PIL import Image

    photo = tmp_path / "photo.png"
    Image.fromarray(_photo()).save(photo)
    assert (
        main(["decompose", str(photo), "--out", str(tmp_path / "o"), "--device", "cpu", "--lam", "0.02"]) == 0
    )
    s = np.asarray(Image.open(tmp_path / "o" / "structure.png"))
    t = np.asarray(Image.open(tmp_path / "o" / "texture.png"))
    assert s.shape == t.shape == (24, 32, 3)
    assert main(["decompose", str(photo), "--out", str(tmp_path / "o"), "--lam", "9"]) == 2
    assert main(["decompose", str(tmp_path / "missing.png"), "--out", str(tmp_path / "o")]) == 2
