"""A person's click on the screw: the one screw the locator answers for when its own outline missed or took the
wrong thing (:meth:`core.locate.Locator.locate` with ``click=``; the search app's click on the photo,
``--click X,Y`` on the command lines)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from core.errors import InputError, NoScrewFoundError
from core.locate.types import LocateConfig
from core.segment.predictor import Segmentation

__all__ = ["check_click", "parse_click", "clicked_screw"]

Mask = NDArray[np.bool_]


def check_click(click: Any, shape: tuple[int, int]) -> tuple[float, float]:
    """``click`` as an (x, y) float pair inside a photo of ``shape`` (H, W).

    Raises:
        InputError: not two finite numbers, or outside the photo.
    """
    try:
        x, y = (float(v) for v in click)
    except (TypeError, ValueError):
        raise InputError(f"a click is two numbers (x, y) in the photo's pixels, got {click!r}") from None
    h, w = shape
    if not (math.isfinite(x) and math.isfinite(y) and 0 <= x < w and 0 <= y < h):
        raise InputError(
            f"click ({x:g}, {y:g}) lies outside the {w}x{h} photo; click on the screw in the photo"
        )
    return x, y


def parse_click(text: str) -> tuple[float, float]:
    """``"X,Y"`` (a command line's ``--click``) as an (x, y) pair of pixels.

    Raises:
        InputError: not two comma-separated numbers.
    """
    try:
        x, y = (float(v) for v in text.split(","))
    except ValueError:
        raise InputError(f"--click takes X,Y in the photo's pixels (e.g. 412,230), got {text!r}") from None
    return x, y


def clicked_screw(
    image: NDArray[np.uint8],
    seg: Segmentation,
    click: tuple[float, float],
    config: LocateConfig,
    blobs: Callable[[], tuple[Segmentation, list[Mask]]],
    edgenet: Any | None = None,
    verifier: Any | None = None,
    coin: Mask | None = None,
) -> tuple[Segmentation, Mask, Mask]:
    """The one screw a person clicked, outlined afresh: (segmentation, its mask, the mask before any redraw).

    A person clicks when the answer outlined nothing or the wrong thing, so the object around the clicked pixel
    is cut by the offline click backend (:class:`core.interactive.SuperpixelBackend`: local contrast and
    GrabCut, without the segmenter's proposal, which is what failed), and ``edgenet`` redraws that cut's outline
    as it redraws GrabCut's (with ``config.use_edgenet``). Only when the cut finds nothing usable (empty, over
    ``config.click_max_area`` of the photo, or a region ``verifier`` is sure is no screw: ``click_verify_below``,
    with a blob to take over) does the segmenter's blob within ``click_reach`` of the click serve; ``blobs()``
    gives the refined segmentation and the blobs as the segmenter gave them (same order), only then.

    ``coin``: the coin the locator measures with (its most coin-like blob); a click on it is refused. Only that
    one: the segmenter's other coin blobs may lie on the very screw it missed (a copper screw on gravel, the
    app's first example), which is why the person clicks.

    Validation (models/segmenter/MODEL_CARD.md "Session 15"): of the 12 of 500 search photos whose answer
    outlined nothing or the wrong thing, 11 found the right SKU in the top 5 with one click in the middle of the
    screw (the cut without EdgeNet also 11, with outlines of IoU 0.83 against 0.89 on average; the cut with the
    segmenter's proposal 8, the blob at the click 6); one click at a random pixel of the screw on 100 photos:
    top 5 for 93.

    Raises:
        NoScrewFoundError: the click is on the coin, or nothing stands out at the clicked point and no screw
            blob lies there.
    """
    from core.interactive import Prompt, SuperpixelBackend

    h, w = image.shape[:2]
    x, y = min(int(click[0]), w - 1), min(int(click[1]), h - 1)
    if coin is not None and coin[y, x]:
        raise NoScrewFoundError(
            f"the point you clicked ({x}, {y}) is on the coin (the size reference); click the screw instead"
        )
    backend = SuperpixelBackend()
    cut = backend.predict(backend.embed(image), Prompt(((x + 0.5, y + 0.5),), (1,)))
    area = int(cut.sum())
    usable = 16 <= area <= config.click_max_area * h * w
    mask = cut
    if usable and edgenet is not None and config.use_edgenet:
        from core.segment.edgenet import edgenet_refine

        redrawn = edgenet_refine(
            edgenet,
            image,
            _screw_prob(seg),
            cut,
            views=config.edgenet_views,
            min_hole=config.edgenet_min_hole,
        )
        mask = redrawn if redrawn.sum() >= 16 else cut
    if usable and not _refused(verifier, config, image, seg, mask):
        return seg, mask, cut
    refined, raw = blobs()
    screws = refined.instances.get("screw", [])
    reach = config.click_reach * max(h, w)
    dist = [_distance_to_mask(m, x, y, reach) for m in screws]
    if dist and min(dist) < math.inf:
        best = int(np.argmin(dist))
        return refined, screws[best], raw[best]
    if usable:  # the verifier doubted the cut, but no blob lies there to take over
        return seg, mask, cut
    what = "nothing stands out from its surroundings" if area < 16 else "only a region too large for a screw"
    raise NoScrewFoundError(
        f"{what} at the clicked point ({x}, {y}); click the middle of the screw's shank, or photograph it on a "
        "plainer background"
    )


def _screw_prob(seg: Segmentation) -> NDArray[np.floating]:
    return seg.probs[seg.classes.index("screw")]


def _refused(
    verifier: Any | None, config: LocateConfig, image: NDArray[np.uint8], seg: Segmentation, mask: Mask
) -> bool:
    """The verifier is sure the clicked cut is no screw (below ``config.click_verify_below``): the cut ran into
    the background (sand of the screw's colour) or onto a neighbouring object. Off without a verifier or at 0."""
    if verifier is None or config.click_verify_below <= 0.0 or "screw" not in seg.classes:
        return False
    from core.segment.verify import verify_blobs

    return verify_blobs(verifier, image, _screw_prob(seg), [mask])[0] < config.click_verify_below


def _distance_to_mask(mask: Mask, x: int, y: int, reach: float) -> float:
    """Pixels from (x, y) to the nearest pixel of ``mask`` (0 inside it; ``inf`` beyond ``reach``)."""
    if mask[y, x]:
        return 0.0
    r = int(math.ceil(reach))
    win = mask[max(y - r, 0) : y + r + 1, max(x - r, 0) : x + r + 1]
    ys, xs = np.nonzero(win)
    if len(ys) == 0:
        return math.inf
    d = float(np.sqrt((ys + max(y - r, 0) - y) ** 2 + (xs + max(x - r, 0) - x) ** 2).min())
    return d if d <= reach else math.inf
