"""Attribute training data: canonical head / tip / body crops cut from studio photos.

Each rendered photo's exact screw polygon and tip->head direction give the canonical head-up view
(:func:`core.pose.canonicalize`), from which every attribute gets its own input (the seed's recipe:
classify parts, not the whole photo):

==========  =============================  ===================
attribute   input                          size (H x W)
==========  =============================  ===================
head        head rows of the canonical     48 x 48
tip         tip rows                       48 x 48
thread      shank + tip, folded in 4       48 x 64
finish      shank (body) pixels, folded    48 x 48
==========  =============================  ===================

Crops are letterboxed on black (aspect kept) so a short screw is not stretched into a long one.
:func:`crops_from_mask` is the same code the search pipeline runs on predicted masks.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

from core.errors import DatasetError, NoScrewFoundError

__all__ = [
    "INPUT_SIZE",
    "AttributeCrops",
    "letterbox",
    "crops_from_canonical",
    "crops_from_mask",
    "build_crop_arrays",
    "save_crop_arrays",
    "load_crop_arrays",
]

INPUT_SIZE: dict[str, tuple[int, int]] = {
    "head": (48, 48),
    "tip": (48, 48),
    "thread": (48, 64),
    "finish": (48, 48),
}
_FOLDS = 4  # the thread input: the shank resampled to 192 x 16 px and cut into 4 side-by-side strips


@dataclass
class AttributeCrops:
    """The four classifier inputs of one screw, uint8 RGB letterboxed to :data:`INPUT_SIZE`."""

    head: NDArray[np.uint8]
    tip: NDArray[np.uint8]
    thread: NDArray[np.uint8]
    finish: NDArray[np.uint8]

    def as_dict(self) -> dict[str, NDArray[np.uint8]]:
        return {"head": self.head, "tip": self.tip, "thread": self.thread, "finish": self.finish}


def letterbox(rgba: NDArray[np.uint8], size: tuple[int, int]) -> NDArray[np.uint8]:
    """Fit an RGB(A) crop into ``size`` (H, W) keeping its aspect, centred on black; alpha masks pixels."""
    h_out, w_out = size
    out = np.zeros((h_out, w_out, 3), np.uint8)
    if rgba.size == 0 or rgba.shape[0] == 0 or rgba.shape[1] == 0:
        return out
    rgb = rgba[..., :3].copy()
    if rgba.shape[-1] == 4:
        rgb[rgba[..., 3] == 0] = 0
    h, w = rgb.shape[:2]
    s = min(h_out / h, w_out / w)
    nh, nw = max(1, round(h * s)), max(1, round(w * s))
    interp = cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR
    small = cv2.resize(rgb, (nw, nh), interpolation=interp)
    y0, x0 = (h_out - nh) // 2, (w_out - nw) // 2
    out[y0 : y0 + nh, x0 : x0 + nw] = small
    return out


def _cols_trim(rgba: NDArray[np.uint8], pad: int = 2) -> NDArray[np.uint8]:
    """Trim empty columns (alpha 0) around a crop, keeping ``pad`` pixels."""
    if rgba.shape[0] == 0 or rgba.shape[-1] != 4:
        return rgba
    cols = np.flatnonzero(rgba[..., 3].any(axis=0))
    if cols.size == 0:
        return rgba
    return rgba[:, max(0, cols[0] - pad) : cols[-1] + 1 + pad]


def fold_shank(rgba: NDArray[np.uint8], size: tuple[int, int] = INPUT_SIZE["thread"]) -> NDArray[np.uint8]:
    """Shank + tip resampled to (folds * H) x (W / folds) and cut into side-by-side strips, (H, W, 3).

    Thread coverage is where along the shank the thread stops. Letterboxing a 20:1 screw into a small square
    shrinks the thread's zig-zag below a pixel; resampling the length to a fixed 192 px (a pitch stays a few
    pixels) and folding it into four strips keeps the thread visible in a compact input. Strip i holds the
    i-th quarter of the shank from the head side.
    """
    h_out, w_out = size
    strip_w = w_out // _FOLDS
    out = np.zeros((h_out, w_out, 3), np.uint8)
    rgba = _cols_trim(rgba)
    if rgba.shape[0] < 2 or rgba.shape[1] < 1:
        return out
    rgb = rgba[..., :3].copy()
    if rgba.shape[-1] == 4:
        rgb[rgba[..., 3] == 0] = 0
    long = cv2.resize(rgb, (strip_w, h_out * _FOLDS), interpolation=cv2.INTER_AREA)  # (192, 16, 3)
    for i in range(_FOLDS):
        out[:, i * strip_w : (i + 1) * strip_w] = long[i * h_out : (i + 1) * h_out]
    return out


def crops_from_canonical(canon) -> AttributeCrops:  # canon: core.pose.CanonicalScrew
    """The four inputs from a canonical screw (see the module table).

    The head crop is the top square of the canvas (side = the head's width, at least the head rows plus a
    shank width): head rows alone are a thin sliver for flat heads. The tip crop is the bottom part, at
    least four shank widths tall, trimmed to its columns; the finish crop is the shank trimmed likewise.
    """
    img = canon.image  # (h, w, 4) head up
    h, w = img.shape[:2]
    widths = canon.mask.sum(axis=1)
    body = widths[canon.body_rows[0] : canon.body_rows[1]]
    shank = float(np.median(body)) if body.size else float(max(1, w // 4))
    head_end = min(h, max(canon.head_rows[1] + int(shank), w))
    tip_len = canon.tip_rows[1] - canon.tip_rows[0]
    tip_start = max(0, h - max(int(1.5 * tip_len), int(4 * shank)))
    body_img = img[canon.body_rows[0] : canon.body_rows[1]] if body.size >= 2 else img
    return AttributeCrops(
        head=letterbox(img[:head_end], INPUT_SIZE["head"]),
        tip=letterbox(_cols_trim(img[tip_start:]), INPUT_SIZE["tip"]),
        thread=fold_shank(img[canon.head_rows[1] :] if canon.head_rows[1] < h - 1 else img),
        # Finish is colour and sheen, not shape: the body pixels fill the input (folded like the thread).
        finish=fold_shank(body_img, INPUT_SIZE["finish"]),
    )


def crops_from_mask(
    image: NDArray[np.uint8], mask: NDArray[np.bool_], angle_deg: float | None = None
) -> tuple[AttributeCrops, object]:
    """Canonicalise one screw and cut its four inputs.

    Args:
        image: (H, W, 3) uint8 RGB photo.
        mask: (H, W) bool mask of this screw.
        angle_deg: tip->head direction (project convention); estimated from the mask when None.

    Returns:
        (crops, the CanonicalScrew).
    """
    from core.pose.canonical import canonicalize
    from core.pose.geometry import axis_from_mask, head_side

    if mask.sum() < 20:
        raise NoScrewFoundError("the screw mask has fewer than 20 pixels")
    axis = axis_from_mask(mask)
    if angle_deg is None:
        angle_deg, _ = head_side(mask, axis)
    canon = canonicalize(image, mask, axis.center, angle_deg, axis.length_px)
    return crops_from_canonical(canon), canon


def _polygon_mask(poly: NDArray[np.float64], h: int, w: int) -> NDArray[np.bool_]:
    m = np.zeros((h, w), np.uint8)
    cv2.fillPoly(m, [np.round(poly * 4).astype(np.int32)], 1, lineType=cv2.LINE_8, shift=2)
    return m.astype(bool)


def _studio_samples(
    n: int, seed: int, width: int, height: int
) -> Iterator[tuple[AttributeCrops, dict[str, int]]]:
    from core.catalog.catalog import load_arrays
    from core.catalog.taxonomy import index_of
    from core.synth.dataset import render_index
    from core.synth.render import StudioConfig

    arrays = load_arrays()
    cfg = StudioConfig(width=width, height=height)
    for i in range(n):
        photo = render_index(arrays, "train", seed, i, cfg)
        if photo.sku is None or photo.screw_polygon is None:
            continue  # coin-only photo
        mask = _polygon_mask(photo.screw_polygon, *photo.image.shape[:2])
        try:
            crops, _ = crops_from_mask(photo.image, mask, float(photo.meta["angle_deg"]))
        except NoScrewFoundError:
            continue
        labels = {a: index_of(a, v) for a, v in photo.sku.attributes().items()}
        labels["sku_row"] = arrays.row_of(photo.sku.id)
        yield crops, labels


def build_crop_arrays(
    n: int, seed: int, width: int = 960, height: int = 720, progress: bool = True
) -> dict[str, NDArray]:
    """Render ``n`` studio photos (seed stream ``seed``) and stack their crops and labels.

    Returns:
        ``{"head": (N, 48, 48, 3) uint8, ..., "y_head": (N,) int64, ..., "sku_row": (N,)}``.
    """
    from tqdm import tqdm

    xs: dict[str, list[NDArray[np.uint8]]] = {k: [] for k in INPUT_SIZE}
    ys: dict[str, list[int]] = {k: [] for k in (*INPUT_SIZE, "sku_row")}
    it = _studio_samples(n, seed, width, height)
    for crops, labels in tqdm(it, total=n, disable=not progress, desc=f"crops seed {seed}"):
        for k, v in crops.as_dict().items():
            xs[k].append(v)
        for k in ys:
            ys[k].append(labels[k])
    if not ys["head"]:
        raise DatasetError(f"no screw photos among {n} rendered; ask for more photos")
    out: dict[str, NDArray] = {k: np.stack(v) for k, v in xs.items()}
    for k, v in ys.items():
        out[k if k == "sku_row" else f"y_{k}"] = np.asarray(v, np.int64)
    return out


def save_crop_arrays(path: str | Path, arrays: dict[str, NDArray]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, **arrays)  # type: ignore[arg-type]
    tmp.replace(path)
    return path


def load_crop_arrays(path: str | Path) -> dict[str, NDArray]:
    path = Path(path)
    if not path.is_file():
        raise DatasetError(
            f"crop file {path} not found; build it with `python -m core.attributes crops --out {path}`",
            path=path,
        )
    with np.load(path) as z:
        return {k: z[k] for k in z.files}
