"""The coin as a colour reference: white-balance the finish crop by the coin's observed colour.

Finish is colour and sheen, and a photo's light colour and exposure move every pixel's colour (the studio
draws 2,700-7,500 K with a partial auto white balance and 0.65-1.3x exposure). The coin beside the screw is
a known metal under the same light, so ``reference / observed`` per channel undoes most of it. On 400 studio
search photos (seed 777,000) a nearest-centroid classifier on the screw's mean colour went from 0.315 to 0.51
(15 finishes) after this balance.

``COIN_REFERENCE_RGB`` is each coin's mean colour over studio photos (geometric mean over photos of the mean
over the coin's inner 80 % radius), i.e. the coin under the studio's average light:
``python -m core.attributes.colour --n 400`` recomputes it.
"""

from __future__ import annotations

import argparse
from typing import Final

import cv2
import numpy as np
from numpy.typing import NDArray

from core.errors import InputError

__all__ = ["COIN_REFERENCE_RGB", "coin_rgb", "balance_gains", "coin_gains", "apply_gains", "main"]

#: 8-bit RGB of each coin under the studio's average light (``python -m core.attributes.colour --n 400``).
COIN_REFERENCE_RGB: Final[dict[str, tuple[float, float, float]]] = {
    "euro_1": (117.3, 105.8, 85.7),
    "euro_2": (126.0, 101.6, 59.0),
    "uk_pound": (128.6, 97.8, 45.5),
    "us_quarter": (111.1, 107.4, 99.4),
}

_GAIN_RANGE: Final[tuple[float, float]] = (0.25, 4.0)


def coin_rgb(image: NDArray[np.uint8], coin_mask: NDArray[np.bool_]) -> NDArray[np.float64] | None:
    """Mean RGB over the coin's inner 80 % radius (its rim and the background at the edge left out), or None
    when the mask has fewer than 30 pixels there."""
    area = float(coin_mask.sum())
    if area < 30:
        return None
    r = np.sqrt(area / np.pi)
    k = max(1, int(round(0.2 * r)))
    # Erode only the coin's box grown by k (the same result as eroding the whole photo, ~50x less work on a
    # 1280x960 photo): beyond k px from the coin nothing reaches it.
    ys, xs = np.nonzero(coin_mask)
    h, w = coin_mask.shape
    y0, y1 = max(0, int(ys.min()) - k), min(h, int(ys.max()) + 1 + k)
    x0, x1 = max(0, int(xs.min()) - k), min(w, int(xs.max()) + 1 + k)
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * k + 1, 2 * k + 1))
    sel = cv2.erode(coin_mask[y0:y1, x0:x1].astype(np.uint8), disc) > 0
    if int(sel.sum()) < 30:
        return None
    return np.asarray(image[y0:y1, x0:x1][sel].reshape(-1, 3).mean(axis=0), np.float64)


def balance_gains(observed_rgb: NDArray[np.floating], coin: str) -> NDArray[np.float32]:
    """Per-channel gains that turn the coin's observed colour into its reference colour (clipped to 0.25-4).

    Raises:
        InputError: unknown coin.
    """
    if coin not in COIN_REFERENCE_RGB:
        raise InputError(f"unknown coin {coin!r}; valid coins: {', '.join(COIN_REFERENCE_RGB)}", field="coin")
    ref = np.asarray(COIN_REFERENCE_RGB[coin], np.float64)
    g = ref / np.maximum(np.asarray(observed_rgb, np.float64), 1.0)
    return np.clip(g, *_GAIN_RANGE).astype(np.float32)


def coin_gains(
    image: NDArray[np.uint8], coin_mask: NDArray[np.bool_] | None, coin: str
) -> NDArray[np.float32] | None:
    """The white balance a photo's coin gives (:func:`balance_gains` of :func:`coin_rgb`), or None without a
    usable coin: no mask, too few pixels, or a coin type that is not one of ``COIN_REFERENCE_RGB`` (e.g. a
    studio photo without a coin, where a segmenter may still call something a coin)."""
    if coin_mask is None or coin not in COIN_REFERENCE_RGB:
        return None
    rgb = coin_rgb(image, coin_mask)
    return None if rgb is None else balance_gains(rgb, coin)


def apply_gains(rgb: NDArray[np.uint8], gains: NDArray[np.floating] | None) -> NDArray[np.uint8]:
    """Multiply the RGB channels of an (..., 3) or (..., 4) uint8 image by ``gains`` (alpha untouched)."""
    if gains is None:
        return rgb
    out = rgb.copy()
    out[..., :3] = np.clip(rgb[..., :3].astype(np.float32) * np.asarray(gains, np.float32), 0, 255).astype(
        np.uint8
    )
    return out


def _reference(n: int, seed: int) -> dict[str, tuple[float, float, float]]:
    from tqdm import tqdm

    from core.catalog.catalog import load_arrays
    from core.segment.data import studio_masks
    from core.synth.dataset import render_index
    from core.synth.render import StudioConfig

    arrays, cfg = load_arrays(), StudioConfig(width=960, height=720)
    logs: dict[str, list[NDArray[np.float64]]] = {}
    for i in tqdm(range(n), desc="coin colours"):
        ph = render_index(arrays, "search", seed, i, cfg)
        _, coin = studio_masks(ph)
        c = coin_rgb(ph.image, coin)
        if c is not None:
            logs.setdefault(str(ph.meta["coin"]["type"]), []).append(np.log(np.maximum(c, 1.0)))
    return {k: tuple(round(float(x), 1) for x in np.exp(np.mean(v, axis=0))) for k, v in sorted(logs.items())}  # type: ignore[misc]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m core.attributes.colour", description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=400, help="studio search photos to average")
    p.add_argument("--seed", type=int, default=777_000, help="photo seed stream")
    a = p.parse_args(argv)
    for k, v in _reference(a.n, a.seed).items():
        print(f'    "{k}": {v},')
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
