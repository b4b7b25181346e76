"""Attribute training data: canonical head / tip / body crops cut from studio photos.

Each rendered photo's exact screw polygon and tip->head direction give the canonical head-up view
(:func:`core.pose.canonicalize`), from which every attribute gets its own input (the seed's recipe:
classify parts, not the whole photo):

==========  ==============================================  ===================
attribute   input                                           size (H x W)
==========  ==============================================  ===================
head        head rows of the canonical                      48 x 48
tip         the last 3 shank widths (:func:`tip_tall`)      96 x 48
thread      shank + tip below the head, one tall strip      256 x 32
finish      shank (body) pixels, folded                     48 x 48
==========  ==============================================  ===================

Head, tip and finish crops are letterboxed on black (aspect kept) so a short screw is not stretched into a
long one; the thread strip is the shank stretched to a fixed length (see :func:`thread_strip`).
:func:`crops_from_canonical` is the one crop function: training cuts it from the exact masks, the search
engine from predicted masks. The whole-photo and box views of the ablation are in
:mod:`core.attributes.views`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
from numpy.typing import NDArray

from core.attributes.colour import apply_gains, coin_gains
from core.errors import ConfigError, DatasetError, NoScrewFoundError

if TYPE_CHECKING:
    from core.pose.canonical import CanonicalScrew

__all__ = [
    "INPUT_SIZE",
    "AttributeCrops",
    "letterbox",
    "shank_start",
    "thread_strip",
    "tip_tall",
    "EXPERIMENT_SIZE",
    "crops_from_canonical",
    "crops_from_mask",
    "build_crop_arrays",
    "save_crop_arrays",
    "load_crop_arrays",
    "merge_crop_arrays",
]

INPUT_SIZE: dict[str, tuple[int, int]] = {
    "head": (48, 48),
    "tip": (96, 48),
    "thread": (256, 32),
    "finish": (48, 48),
}
_FOLDS = 4  # the finish input: the body resampled to 4 x H rows and cut into 4 side-by-side strips


@dataclass
class AttributeCrops:
    """The four classifier inputs of one screw, uint8 RGB letterboxed to :data:`INPUT_SIZE`."""

    head: NDArray[np.uint8]
    tip: NDArray[np.uint8]
    thread: NDArray[np.uint8]
    finish: NDArray[np.uint8]
    #: the finish input white-balanced by the coin (:mod:`core.attributes.colour`); the plain finish input when
    #: the photo has no coin
    finish_wb: NDArray[np.uint8] | None = None

    def as_dict(self) -> dict[str, NDArray[np.uint8]]:
        """The inputs by crop-file key (``tip_tall`` is the tip input's older key, kept for old checkpoints)."""
        wb = self.finish if self.finish_wb is None else self.finish_wb
        return {
            "head": self.head,
            "tip": self.tip,
            "thread": self.thread,
            "finish": self.finish,
            "finish_wb": wb,
            "tip_tall": self.tip,
        }


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


def fold_shank(rgba: NDArray[np.uint8], size: tuple[int, int] = INPUT_SIZE["finish"]) -> NDArray[np.uint8]:
    """A crop resampled to (folds * H) x (W / folds) and cut into side-by-side strips, (H, W, 3).

    Used for the finish input: the body pixels fill a compact square instead of a thin letterboxed line.
    Strip i holds the i-th quarter of the crop from the head side.
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


def _shank_width(widths: NDArray[np.integer], top: int, bottom: int) -> float:
    """Median row width over 40-80 % of the screw's length (rows ``top:bottom`` of a head-up mask)."""
    n = bottom - top
    return float(np.median(widths[top + int(0.4 * n) : top + max(int(0.8 * n), int(0.4 * n) + 1)]))


def shank_start(mask: NDArray[np.bool_]) -> int:
    """First row below the head of a head-up canonical mask (0 when no head is wider than the shank).

    The shank width is the median row width over 40-80 % of the length; the head is the run of rows wider
    than 1.2x that width in the top half, and the shank starts below its last such row. (Scanning for the
    *first* narrow row, as :func:`core.pose.split_parts` does, stops at the narrow top of a domed head.)
    """
    w = mask.sum(axis=1)
    rows = np.flatnonzero(w > 0)
    if rows.size < 3:
        return 0
    top, bottom = int(rows[0]), int(rows[-1]) + 1
    n = bottom - top
    shank = _shank_width(w, top, bottom)
    wide = np.flatnonzero(w[top : top + n // 2] > 1.2 * shank)
    return top + int(wide[-1]) + 1 if wide.size else top


def thread_strip(
    rgba: NDArray[np.uint8], mask: NDArray[np.bool_], size: tuple[int, int] = INPUT_SIZE["thread"]
) -> NDArray[np.uint8]:
    """The thread input: everything below the head, stretched to one tall strip, (H, W, 3) uint8.

    Thread coverage is *where along the shank* the thread starts (full / ~1/3 / ~2/3 / near the tip). The
    strip maps the shank's top (just below the head) to row 0 and the tip to the last row, so the class is
    a row position regardless of the screw's length; at 256 rows a screw of 200-600 px keeps 0.4-1.3x its
    photo resolution along the axis, so a 3-6 px pitch stays visible. Columns are trimmed to the shank
    and stretched to the strip width; background is black.

    Args:
        rgba: (h, w, 4) canonical head-up screw (alpha = mask).
        mask: (h, w) bool mask of ``rgba``.
        size: (H, W) of the strip.
    """
    h_out, w_out = size
    out = np.zeros((h_out, w_out, 3), np.uint8)
    if rgba.shape[0] < 2 or rgba.shape[1] < 1:
        return out
    body = _cols_trim(rgba[shank_start(mask) :])
    if body.shape[0] < 2:
        body = _cols_trim(rgba)
    rgb = body[..., :3].copy()
    if body.shape[-1] == 4:
        rgb[body[..., 3] == 0] = 0
    interp = cv2.INTER_AREA if body.shape[0] > h_out else cv2.INTER_LINEAR
    return np.asarray(cv2.resize(rgb, (w_out, h_out), interpolation=interp), np.uint8)


# Extra inputs stored beside the production ones in the crop files. ``tip_tall`` was the candidate tip
# input; it won on validation and is now the production tip crop too (the key stays so that a checkpoint
# trained on it, ``arch["input"] == "tip_tall"``, evaluates on crop files written before the switch).
EXPERIMENT_SIZE: dict[str, tuple[int, int]] = {"tip_tall": (96, 48), "finish_wb": (48, 48)}


def tip_tall(
    rgba: NDArray[np.uint8], mask: NDArray[np.bool_], size: tuple[int, int] = EXPERIMENT_SIZE["tip_tall"]
) -> NDArray[np.uint8]:
    """The tip input: the last 3 shank widths only, letterboxed into a tall (96 x 48) frame.

    The earlier tip crop put at least 4 shank widths (often the whole short screw) into 48 x 48, about
    12 px per shank width; this one gives the end of the screw about 2.5x the pixels along and across the
    axis (held-out tip accuracy 0.494 -> 0.656 at the same 12-epoch budget, models/attributes/README.md).
    """
    w = mask.sum(axis=1)
    rows = np.flatnonzero(w > 0)
    if rows.size < 3:
        return letterbox(rgba, size)
    top, bottom = int(rows[0]), int(rows[-1]) + 1
    start = max(top, bottom - max(8, int(round(3.0 * _shank_width(w, top, bottom)))))
    return letterbox(_cols_trim(rgba[start:bottom]), size)


def crops_from_canonical(canon: CanonicalScrew, gains: NDArray[np.floating] | None = None) -> AttributeCrops:
    """The four inputs from a canonical screw (see the module table).

    ``gains`` (per RGB channel, :func:`core.attributes.colour.balance_gains` from the photo's coin) also give
    the white-balanced finish input ``finish_wb``.

    The head crop is the top square of the canvas (side = the head's width, at least the head rows plus a
    shank width): head rows alone are a thin sliver for flat heads. The tip crop is the last three shank
    widths (:func:`tip_tall`); the thread crop is the strip of :func:`thread_strip`; the finish crop is the
    body pixels folded into 4 strips.
    """
    img = canon.image  # (h, w, 4) head up
    h, w = img.shape[:2]
    widths = canon.mask.sum(axis=1)
    body = widths[canon.body_rows[0] : canon.body_rows[1]]
    shank = float(np.median(body)) if body.size else float(max(1, w // 4))
    head_end = min(h, max(canon.head_rows[1] + int(shank), w))
    body_img = img[canon.body_rows[0] : canon.body_rows[1]] if body.size >= 2 else img
    return AttributeCrops(
        head=letterbox(img[:head_end], INPUT_SIZE["head"]),
        tip=tip_tall(img, canon.mask, INPUT_SIZE["tip"]),
        thread=thread_strip(img, canon.mask),
        # Finish is colour and sheen, not shape: the body pixels fill the input (folded into 4 strips).
        finish=fold_shank(body_img, INPUT_SIZE["finish"]),
        finish_wb=None if gains is None else fold_shank(apply_gains(body_img, gains), INPUT_SIZE["finish"]),
    )


def crops_from_mask(
    image: NDArray[np.uint8],
    mask: NDArray[np.bool_],
    angle_deg: float | None = None,
    gains: NDArray[np.floating] | None = None,
) -> tuple[AttributeCrops, CanonicalScrew]:
    """Canonicalise one screw and cut its four inputs.

    Args:
        image: (H, W, 3) uint8 RGB photo.
        mask: (H, W) bool mask of this screw.
        angle_deg: tip->head direction (project convention); estimated from the mask when None.
        gains: the coin's white balance (see :func:`crops_from_canonical`).

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
    return crops_from_canonical(canon, gains), canon


def _polygon_mask(poly: NDArray[np.float64], h: int, w: int) -> NDArray[np.bool_]:
    m = np.zeros((h, w), np.uint8)
    cv2.fillPoly(m, [np.round(poly * 4).astype(np.int32)], 1, lineType=cv2.LINE_8, shift=2)
    return m.astype(bool)


def _predicted(locator: Any, image: NDArray[np.uint8], truth: NDArray[np.bool_]) -> tuple[Any, Any]:
    """The pipeline's own view of the screw whose predicted mask overlaps ``truth`` best (IoU >= 0.5).

    Returns:
        (the ``core.locate`` ScrewResult -- predicted mask, pipeline angle, canonical screw -- or None,
        the reference coin's mask the locator kept, or None).
    """
    try:
        res = locator.locate(image)
    except NoScrewFoundError:
        return None, None
    found = res.screws
    seg = getattr(res, "segmentation", None)
    coins = seg.instances.get("coin", []) if seg is not None and res.coin is not None else []
    coin = coins[0] if coins else None
    from core.locate import matching_screw

    return matching_screw(found, truth), coin


def _studio_samples(
    n: int, seed: int, width: int, height: int, locator: Any = None, mode: str = "train"
) -> Iterator[tuple[dict[str, NDArray[np.uint8]], dict[str, int]]]:
    """One sample per screw photo (crops + labels; ``labels["cut"]`` = 0), and with a locator one more per extra
    cut of the same screw (``LocateConfig.view_reaches``; ``cut`` = 1, 2, ...), from the same locate pass."""
    from core.attributes.views import ablation_views
    from core.catalog.catalog import load_arrays
    from core.catalog.taxonomy import index_of
    from core.synth.dataset import render_index
    from core.synth.render import StudioConfig

    arrays = load_arrays()
    cfg = StudioConfig(width=width, height=height)
    for i in range(n):
        photo = render_index(arrays, mode, seed, i, cfg)
        if photo.sku is None or photo.screw_polygon is None:
            continue  # coin-only photo
        h, w = photo.image.shape[:2]
        mask = _polygon_mask(photo.screw_polygon, h, w)
        coin_type = str(photo.meta["coin"]["type"]) if photo.meta.get("coin") else ""
        try:
            if locator is None:  # exact masks and the renderer's angle
                coin = None if photo.coin_polygon is None else _polygon_mask(photo.coin_polygon, h, w)
                gains = coin_gains(photo.image, coin, coin_type)
                crops, canon = crops_from_mask(photo.image, mask, float(photo.meta["angle_deg"]), gains)
            else:  # what the search engine will see: predicted mask, pipeline angle
                screw, coin = _predicted(locator, photo.image, mask)
                if screw is None:
                    continue  # the segmenter missed this screw: nothing the engine could classify either
                canon, mask = screw.canonical, screw.mask
                gains = coin_gains(photo.image, coin, coin_type)
                crops = crops_from_canonical(canon, gains)
        except NoScrewFoundError:
            continue
        labels = {a: index_of(a, v) for a, v in photo.sku.attributes().items()}
        labels["sku_row"] = arrays.row_of(photo.sku.id)
        views = ablation_views(photo.image, mask)
        yield {**crops.as_dict(), **views}, {**labels, "cut": 0}
        if locator is not None:
            for j, view in enumerate(screw.views, start=1):
                yield {**crops_from_canonical(view, gains).as_dict(), **views}, {**labels, "cut": j}


def build_crop_arrays(
    n: int,
    seed: int,
    width: int = 960,
    height: int = 720,
    progress: bool = True,
    segmenter: str | Path | None = None,
    rotationnet: str | Path | None = None,
    mode: str = "train",
    grabcut_reach: float | None = None,
    edgenet: str | Path | None = None,
    view_reaches: tuple[float, ...] = (),
) -> dict[str, NDArray]:
    """Render ``n`` studio photos (seed stream ``seed``) and stack their crops, views and labels.

    ``mode`` is the studio's photo mode: ``train`` (mostly one screw, no coin: ``finish_wb`` = ``finish``) or
    ``search`` (screw + coin: ``finish_wb`` is white-balanced by the coin, as the search engine does).

    With ``segmenter`` (a checkpoint), crops are cut the way the search engine cuts them — from that
    segmenter's mask of the screw (second pass at ``SEARCH_REFINE_ZOOM``, like the engine) and the pipeline's
    head direction (``rotationnet`` when given) — instead of from the exact mask and the renderer's angle;
    screws the segmenter misses are skipped. ``grabcut_reach`` sets that locator's GrabCut reach
    (:class:`core.segment.refine.GrabCutConfig`; e.g. 0 cuts the second view the search engine reads).
    ``edgenet`` (a file, :mod:`core.segment.edgenet`) redraws the main outline as the engine's locator does;
    ``view_reaches`` adds the extra GrabCut cuts the engine reads (``core.search.engine.SEARCH_VIEW_REACHES``)
    of the same screw, from the same pass, as more samples (``cut`` = 1, 2, ...; the main cut is 0).

    Returns:
        ``{"head": (N, 48, 48, 3) uint8, ..., "photo": (N, 96, 128, 3), "box": (N, 96, 96, 3),
        "y_head": (N,) int64, ..., "sku_row": (N,), "cut": (N,)}`` (views: :mod:`core.attributes.views`).
    """
    from tqdm import tqdm

    from core.attributes.views import VIEW_SIZE

    xs: dict[str, list[NDArray[np.uint8]]] = {k: [] for k in (*INPUT_SIZE, *VIEW_SIZE, *EXPERIMENT_SIZE)}
    ys: dict[str, list[int]] = {k: [] for k in (*INPUT_SIZE, "sku_row", "cut")}
    locator = None
    if segmenter is not None:
        from core.locate import LocateConfig, Locator
        from core.segment.predictor import SEARCH_REFINE_ZOOM

        locator = Locator.from_files(
            segmenter,
            rotationnet,
            config=LocateConfig(view_reaches=tuple(view_reaches)),
            threads=1,
            refine_zoom=SEARCH_REFINE_ZOOM,
            edgenet_path=edgenet,
        )
        if grabcut_reach is not None:
            locator = locator.with_config(grabcut=replace(locator.config.grabcut, reach=grabcut_reach))
    else:
        given = {
            "grabcut_reach": grabcut_reach is not None,
            "edgenet": edgenet is not None,
            "view_reaches": bool(view_reaches),
        }
        for name, on in given.items():
            if on:
                raise ConfigError(f"{name} needs a segmenter (exact masks are not cut)", field=name)
    it = _studio_samples(n, seed, width, height, locator, mode)
    per_photo = 1 + (len(view_reaches) if locator is not None else 0)  # samples a found screw gives
    bar = tqdm(it, total=n * per_photo, disable=not progress, desc=f"crops seed {seed}", unit="crop")
    for crops, labels in bar:
        for k, v in crops.items():
            xs[k].append(v)
        for k in ys:
            ys[k].append(labels[k])
    if not ys["head"]:
        raise DatasetError(f"no screw photos among {n} rendered; ask for more photos")
    out: dict[str, NDArray] = {k: np.stack(v) for k, v in xs.items()}
    for k, v in ys.items():
        out[k if k in ("sku_row", "cut") else f"y_{k}"] = np.asarray(v, np.int64)
    return out


def save_crop_arrays(path: str | Path, arrays: dict[str, NDArray]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, **arrays)  # type: ignore[arg-type]
    tmp.replace(path)
    return path


def merge_crop_arrays(paths: list[str] | list[Path]) -> dict[str, NDArray]:
    """Stack crop files along the screw axis (the keys all files share).

    Raises:
        DatasetError: fewer than one file, or two files whose crops of one key differ in size.
    """
    parts = [load_crop_arrays(p) for p in paths]
    if not parts:
        raise DatasetError("nothing to merge; give at least one crop file")
    keys = sorted(set.intersection(*(set(a) for a in parts)))
    out: dict[str, NDArray] = {}
    for k in keys:
        shapes = {a[k].shape[1:] for a in parts}
        if len(shapes) > 1:
            raise DatasetError(
                f"crop files disagree on the size of {k!r} ({sorted(shapes)}); rebuild them with the same "
                "version of `python -m core.attributes crops`"
            )
        out[k] = np.concatenate([a[k] for a in parts])
    return out


def load_crop_arrays(path: str | Path) -> dict[str, NDArray]:
    path = Path(path)
    if not path.is_file():
        raise DatasetError(
            f"crop file {path} not found; build it with `python -m core.attributes crops --out {path}`",
            path=path,
        )
    with np.load(path) as z:
        return {k: z[k] for k in z.files}
