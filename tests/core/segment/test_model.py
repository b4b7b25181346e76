from __future__ import annotations

import numpy as np
import pytest
import torch

from core.checkpoints import save_checkpoint
from core.errors import ConfigError
from core.segment import Segmenter, create_segmenter, load_segmenter
from core.segment.model import arch_dict


def test_unknown_encoder_lists_valid_ones() -> None:
    with pytest.raises(ConfigError, match="tu-mobilenetv3_small_100"):
        create_segmenter("resnet9000")


def test_predictor_shapes_and_checkpoint_roundtrip(tmp_path) -> None:
    torch.manual_seed(0)
    model = create_segmenter()
    path = save_checkpoint(tmp_path / "seg.safetensors", model, arch=arch_dict(model.arch))
    again = load_segmenter(path)
    img = (np.random.default_rng(0).random((50, 70, 3)) * 255).astype(np.uint8)
    a = Segmenter(model, infer_size=64).probabilities(img)
    b = Segmenter(again, infer_size=64).probabilities(img)
    assert a.shape == (2, 50, 70) and a.dtype == np.float32
    np.testing.assert_allclose(a, b, atol=1e-5)
    seg = Segmenter(again, infer_size=64).predict(img)
    assert set(seg.instances) == {"screw", "coin"} and seg.mask("screw").shape == (50, 70)
