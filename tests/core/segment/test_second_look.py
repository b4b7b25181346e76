"""The segmenter's second look (tiles at a higher zoom) and the locator's use of it."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from core.errors import NoScrewFoundError
from core.locate import LocateConfig, Locator
from core.segment.predictor import Segmenter


class _ThinLineNet(torch.nn.Module):
    """A stand-in network: 'screw' where the green channel is bright, 'coin' where the red one is. A 1-px
    green line fades to half brightness when the photo is shrunk by 2, so only a look at full size sees it."""

    arch = SimpleNamespace(classes=("screw", "coin"))
    device = torch.device("cpu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        screw = (x[:, 1:2] > 200).float() * 20 - 10
        coin = (x[:, 0:1] > 200).float() * 20 - 10
        return torch.cat([screw, coin], 1)


def _photo() -> np.ndarray:
    img = np.zeros((768, 1024, 3), np.uint8)
    img[301, 200:520, 1] = 255  # the screw: 1 px wide, 320 px long, on an odd row
    yy, xx = np.mgrid[:768, :1024]
    img[(yy - 500) ** 2 + (xx - 800) ** 2 <= 60**2, 0] = 255  # a coin
    return img


def test_predict_tiled_finds_what_the_first_pass_missed_and_keeps_the_rest() -> None:
    seg = Segmenter(_ThinLineNet(), infer_size=512)
    img = _photo()
    first = seg.predict(img)
    assert first.instances["screw"] == [] and len(first.instances["coin"]) == 1
    second = seg.predict_tiled(img, 2.0, first)
    (blob,) = second.instances["screw"]
    assert blob[301, 200:520].mean() > 0.95 and blob.sum() < 2 * 320  # the line, all of it, nothing else
    assert np.array_equal(second.probs[1], first.probs[1])  # the coin keeps the first pass's map
    assert second.scale == first.scale == 0.5
    assert seg.predict_tiled(img, 1.0, first) is first  # zoom 1: no second look
    # a small photo is enlarged for the second look (tiles of infer_size / zoom)
    small = np.ascontiguousarray(img[::2, ::2])
    small[150, 100:260, 1] = 255
    assert seg.predict_tiled(small, 2.0, seg.predict(small)).probs.shape == (2, 384, 512)


def test_locator_takes_a_second_look_when_no_screw_is_found() -> None:
    seg = Segmenter(_ThinLineNet(), infer_size=512)
    img = _photo()
    off = Locator(seg, config=LocateConfig(refine_edges=False, second_look_zoom=1.0))
    with pytest.raises(NoScrewFoundError, match="no screw found"):
        off.locate(img)
    res = Locator(seg, config=LocateConfig(refine_edges=False)).locate(img)
    (screw,) = res.screws
    assert screw.mask[301, 200:520].all()
    assert res.coin is not None  # the coin still measured from the first pass


def test_second_look_is_kept_only_when_the_verifier_likes_it_better() -> None:
    from core.locate.pipeline import _best_score, _doubtful, _Look

    seg = Segmenter(_ThinLineNet(), infer_size=512).predict(_photo())
    blob = np.zeros((768, 1024), bool)
    none = _Look(seg, [], [], [])
    doubted = _Look(seg, [blob], [blob], [0.2])
    sure = _Look(seg, [blob, blob], [blob, blob], [0.3, 0.9])
    unverified = _Look(seg, [blob], [blob], [None])
    assert [_best_score(x) for x in (none, doubted, sure, unverified)] == [-1.0, 0.2, 0.9, 1.0]
    assert _doubtful(none, 0.5) and _doubtful(doubted, 0.5)
    assert not _doubtful(sure, 0.5) and not _doubtful(unverified, 0.5)


@pytest.mark.parametrize("zoom", [0.5, 5.0])
def test_bad_second_look_zoom_is_a_config_error(zoom: float) -> None:
    from core.errors import ConfigError

    with pytest.raises(ConfigError) as e:
        LocateConfig(second_look_zoom=zoom)
    assert e.value.field == "second_look_zoom"


def test_second_look_drops_blobs_too_large_to_be_a_missed_screw() -> None:
    """A busy background can come back from the tiled pass as one photo-sized blob: dropped, the small one kept."""
    from core.segment.predictor import Segmentation

    class _Flooding(Segmenter):
        def predict_tiled(self, image: np.ndarray, zoom: float, first: Segmentation) -> Segmentation:
            out = super().predict_tiled(image, zoom, first)
            flood = np.zeros(image.shape[:2], bool)
            flood[400:, :600] = True  # a third of the photo
            return Segmentation(
                out.probs,
                out.classes,
                {**out.instances, "screw": [flood, *out.instances["screw"]]},
                out.scale,
            )

    res = Locator(_Flooding(_ThinLineNet(), infer_size=512), config=LocateConfig(refine_edges=False)).locate(
        _photo()
    )
    (screw,) = res.screws
    assert screw.mask[301, 200:520].all() and screw.mask.sum() < 1000
