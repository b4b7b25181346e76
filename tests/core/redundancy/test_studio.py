from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from core.errors import ConfigError
from core.redundancy import load_image_folder, make_studio_folder


def test_studio_head_crops_form_an_image_folder(tmp_path):
    out = make_studio_folder(tmp_path / "heads", 2, ("flat", "hex"))
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.png"))
    assert files == ["flat/0000.png", "flat/0001.png", "hex/0000.png", "hex/0001.png"]
    img = np.asarray(Image.open(out / "hex" / "0000.png"))
    assert img.shape == (96, 96, 3) and img.std() > 5  # a rendered scene, not a blank square
    assert load_image_folder(out, size=16, folds=2).classes == ("flat", "hex")


def test_studio_rejects_unknown_heads(tmp_path):
    with pytest.raises(ConfigError, match="unknown head"):
        make_studio_folder(tmp_path, 1, ("flat", "spaceship"))
    with pytest.raises(ConfigError, match="n_per_class"):
        make_studio_folder(tmp_path, 0, ("flat",))
