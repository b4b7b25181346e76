from __future__ import annotations

import numpy as np
import pytest
import torch

from core.errors import ConfigError
from core.segment.data import StudioSegDataset
from core.segment.evaluate import threshold_sweep


def test_zoomed_crops_have_the_crop_size_and_keep_labels_aligned() -> None:
    ds = StudioSegDataset(2, width=128, height=96, search_share=1.0, crop=64, zoom=(0.5, 2.0), focus=1.0)
    torch.manual_seed(0)
    for _ in range(6):
        x, y, lm = ds[0]
        assert x.shape == (3, 64, 64) and y.shape == (2, 64, 64)
        assert set(np.unique(y.numpy())) <= {0.0, 1.0}
        assert lm.tolist() == [1.0, 1.0]
        # focus=1: every crop is centred near an object pixel, so it shows some object.
        assert y.sum() > 0


def test_zoom_one_without_focus_is_a_plain_crop_of_the_photo() -> None:
    ds = StudioSegDataset(1, width=96, height=64, search_share=1.0, crop=32)
    torch.manual_seed(1)
    x, _, _ = ds[0]
    img = torch.from_numpy(ds.images[0]).permute(2, 0, 1).float()  # (3, H, W)
    # The crop (possibly flipped) must appear somewhere in the photo.
    found = False
    for flip_h in (False, True):
        for flip_v in (False, True):
            c = x
            if flip_h:
                c = c.flip(2)
            if flip_v:
                c = c.flip(1)
            win = img.unfold(1, 32, 1).unfold(2, 32, 1)  # (3, H-31, W-31, 32, 32)
            found |= bool(((win - c[:, None, None]).abs().amax(dim=(0, 3, 4)) == 0).any())
    assert found


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"zoom": (2.0, 1.0)}, "zoom"), ({"zoom": (0.01, 1.0)}, "zoom"), ({"focus": 1.5}, "focus")],
)
def test_bad_zoom_or_focus_is_a_config_error(kwargs, field) -> None:
    with pytest.raises(ConfigError) as e:
        StudioSegDataset(1, width=64, height=64, crop=32, **kwargs)
    assert e.value.field == field


def test_threshold_sweep_reports_iou_per_threshold() -> None:
    from core.segment.data import VAL_SEED, studio_masks
    from core.segment.evaluate import heldout_photos

    (photo,) = heldout_photos(1, "search", VAL_SEED, 96, 64)
    screw, coin = studio_masks(photo)

    class Oracle:
        """True masks as probabilities: 0.8 inside the screw, 0.6 inside the coin."""

        classes = ("screw", "coin")
        min_area_frac = 0.0

        def probabilities(self, image: np.ndarray) -> np.ndarray:
            return np.stack([screw * 0.8, coin * 0.6]).astype(np.float32)

    out = threshold_sweep(Oracle(), [0.5, 0.7, 0.9], n=1, width=96, height=64)  # type: ignore[arg-type]
    assert set(out) == {"0.5", "0.7", "0.9"}
    assert out["0.5"] == {"iou_screw": 1.0, "iou_coin": 1.0}
    assert out["0.7"] == {"iou_screw": 1.0, "iou_coin": 0.0}
    assert out["0.9"] == {"iou_screw": 0.0, "iou_coin": 0.0}


@pytest.mark.parametrize(("shape", "infer"), [((40, 70, 3), 64), ((16, 16, 3), 16)])
def test_flip_tta_is_mirror_symmetric(shape, infer) -> None:
    from core.segment.model import create_segmenter
    from core.segment.predictor import Segmenter

    torch.manual_seed(0)
    seg = Segmenter(create_segmenter(), infer_size=infer, flip_tta=True)
    img = (np.random.default_rng(0).random(shape) * 255).astype(np.uint8)
    a = seg.probabilities(img)
    b = seg.probabilities(np.ascontiguousarray(img[:, ::-1]))
    assert a.shape == (2, *shape[:2])
    np.testing.assert_allclose(a, b[:, :, ::-1], atol=1e-5)
    plain = Segmenter(seg.model, infer_size=infer).probabilities(img)
    assert not np.allclose(a, plain, atol=1e-4)  # the mirror pass changed something


class _BrightNet(torch.nn.Module):
    """Scale-free fake segmenter: screw logit = (mean brightness - 128) / 8, coin logit = -10."""

    def __init__(self) -> None:
        super().__init__()
        from core.segment.model import SegmenterArch

        self.arch = SegmenterArch()
        self.w = torch.nn.Parameter(torch.zeros(1))
        self.calls: list[tuple[int, ...]] = []

    @property
    def device(self) -> torch.device:
        return self.w.device

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls.append(tuple(x.shape))
        screw = (x.mean(1, keepdim=True) - 128.0) / 8.0
        return torch.cat([screw, torch.full_like(screw, -10.0)], 1)


def test_refine_zoom_runs_a_zoomed_second_pass_around_each_screw() -> None:
    from core.segment.predictor import Segmenter

    img = np.zeros((96, 128, 3), np.uint8)
    img[40:50, 30:90] = 255  # one bright "screw"
    net = _BrightNet()
    plain = Segmenter(net, infer_size=128).predict(img)  # type: ignore[arg-type]
    assert len(net.calls) == 1
    net.calls.clear()
    refined = Segmenter(net, infer_size=128, refine_zoom=1.5).predict(img)  # type: ignore[arg-type]
    assert len(net.calls) == 2
    # The crop (60x10 px + margins) went through at 1.5x: a 96+ px wide input.
    assert net.calls[1][3] >= 96
    iou = (refined.mask("screw") & plain.mask("screw")).sum() / (
        refined.mask("screw") | plain.mask("screw")
    ).sum()
    assert iou > 0.9 and len(refined.instances["screw"]) == 1


def test_refine_zoom_is_relative_to_the_first_pass_scale() -> None:
    """A photo twice the inference size goes through at 0.5 first; its screw again at 0.5 * 1.5 = 0.75 of the
    photo's pixels (not 1.5x the photo: that would show the net a screw three times larger than it knows)."""
    from core.segment.predictor import Segmenter

    img = np.zeros((384, 512, 3), np.uint8)
    img[180:200, 150:330] = 255
    net = _BrightNet()
    Segmenter(net, infer_size=256, refine_zoom=1.5).predict(img)  # type: ignore[arg-type]
    assert net.calls[0][2:] == (192, 256)
    # Crop: the blob (180 px) + 32 px (16 px at the first pass's scale) + 10 % on each side = 280 x 120 px,
    # at 0.75 -> 210 x 90, padded to multiples of 32.
    assert net.calls[1][2:] == (96, 224)
