"""Segmenter datasets: photos from the studio (core.synth, seeded) and any labelme folder, with partial labels.

Each item is ``(image, target, label_mask)``: (3, H, W) float32 RGB in [0, 255], (C, H, W) float32 0/1
masks, (C,) float32 1 where the class was labelled on that photo.

Studio photos mix two dataset modes of :mod:`core.synth`: ``search`` photos (a screw and a coin, both classes
labelled) and ``train`` photos (90 % screw-only, 10 % coin-only: only the class shown is labelled, the seed's
partial-label recipe). A labelme photo counts as labelled for a class when one of its shapes has that label,
when its flags hold ``labelled_<class>: true`` (e.g. a photo verified to hold no coin), or when its flag
``complete`` is true (every class labelled).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from numpy.typing import NDArray
from torch.utils.data import Dataset

from core.errors import ConfigError, DatasetError
from core.segment.model import CLASSES

__all__ = [
    "StudioSegDataset",
    "LabelmeSegDataset",
    "labelme_item",
    "polygon_mask",
    "studio_masks",
    "TRAIN_SEED",
    "VAL_SEED",
    "HELDOUT_SEED",
]

#: Dataset seeds of :func:`core.synth.photo_seed` streams. Training photos come from TRAIN_SEED (search mode)
#: and TRAIN_SEED + 1 (train mode); validation during training from VAL_SEED; the held-out figures in bench/
#: from HELDOUT_SEED and up, never used for training or model selection.
TRAIN_SEED = 11
VAL_SEED = 500_011
HELDOUT_SEED = 1_000_011


def polygon_mask(poly: NDArray[np.float64] | None, h: int, w: int) -> NDArray[np.bool_]:
    """Rasterise an (N, 2) XY pixel polygon (sub-pixel accurate) to an (H, W) bool mask; None -> empty."""
    m = np.zeros((h, w), np.uint8)
    if poly is not None and len(poly) >= 3:
        pts = np.round(np.asarray(poly, np.float64) * 16.0).astype(np.int32)  # 4 fractional bits
        cv2.fillPoly(m, [pts], 1, lineType=cv2.LINE_8, shift=4)
    return m.astype(bool)


def studio_masks(photo: object) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
    """(screw, coin) ground-truth masks of a :class:`core.synth.SynthPhoto` (its labelme polygons)."""
    image = photo.image  # type: ignore[attr-defined]
    h, w = image.shape[:2]
    return (
        polygon_mask(photo.screw_polygon, h, w),  # type: ignore[attr-defined]
        polygon_mask(photo.coin_polygon, h, w),  # type: ignore[attr-defined]
    )


def _to_item(
    image: NDArray[np.uint8], masks: list[NDArray[np.bool_]], labelled: list[bool]
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    x = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float()  # (3, H, W)
    y = torch.from_numpy(np.stack(masks).astype(np.float32))  # (C, H, W)
    return x, y, torch.tensor(labelled, dtype=torch.float32)


class StudioSegDataset(Dataset):
    """``n`` studio photos rendered once at ``width`` x ``height`` and cached as uint8 arrays.

    Photo ``i`` is a ``search`` photo (both classes labelled) when ``i`` falls in the first
    ``search_share`` of the set, else a ``train`` photo (only the class it shows is labelled).

    Args:
        n: number of photos.
        seed: dataset seed; ``search`` photos use ``seed``, ``train`` photos ``seed + 1``.
        width, height: render size (multiples of 32 so the U-Net takes them whole).
        search_share: fraction of ``search`` photos.
        crop: side of a random square crop taken at each access (0 = the whole photo).
        augment: random horizontal / vertical flips and crops (off for validation).
        catalog: catalog database (None = the project's default).
        zoom: (min, max) random zoom of training crops (log-uniform); (1, 1) = no zoom.
        focus: chance that a training crop is centred on a labelled object pixel.
        picks: render these ``(mode, seed, index)`` photos instead (``n``, ``seed`` and ``search_share``
            unused), e.g. hard cases chosen by :func:`core.synth.dataset.matching_indices`.
        render_scale: render each photo this many times larger and shrink it to ``width`` x ``height`` (area
            interpolation), as the segmenter shrinks a 1280x960 search photo to its 512 px input: the studio's
            blur, noise and JPEG then sit at the photo's own scale, not the network's.

    Raises:
        ConfigError: sizes not multiples of 32, a share outside [0, 1], a crop larger than the photo, a zoom
            range outside [0.1, 10] or a focus outside [0, 1].
    """

    def __init__(
        self,
        n: int,
        seed: int = TRAIN_SEED,
        width: int = 384,
        height: int = 288,
        search_share: float = 0.6,
        crop: int = 0,
        augment: bool = True,
        catalog: str | None = None,
        zoom: tuple[float, float] = (1.0, 1.0),
        focus: float = 0.0,
        picks: list[tuple[str, int, int]] | None = None,
        render_scale: float = 1.0,
    ):
        if width % 32 or height % 32:
            raise ConfigError(f"render size {width}x{height} must be multiples of 32", field="size")
        if not 0.0 <= search_share <= 1.0:
            raise ConfigError(f"search_share must be in [0, 1], got {search_share}", field="search_share")
        if crop and (crop % 32 or crop > min(width, height)):
            raise ConfigError(
                f"crop {crop} must be a multiple of 32 and <= {min(width, height)}", field="crop"
            )
        if not 0.1 <= zoom[0] <= zoom[1] <= 10.0:
            raise ConfigError(f"zoom must be (lo, hi) with 0.1 <= lo <= hi <= 10, got {zoom}", field="zoom")
        if not 0.0 <= focus <= 1.0:
            raise ConfigError(f"focus must be in [0, 1], got {focus}", field="focus")
        if not 1.0 <= render_scale <= 4.0:
            raise ConfigError(f"render_scale must be in [1, 4], got {render_scale}", field="render_scale")
        from core.catalog.catalog import load_arrays
        from core.synth import StudioConfig, render_index

        arrays = load_arrays(catalog)
        big = (int(round(width * render_scale)), int(round(height * render_scale)))
        cfg = StudioConfig(width=big[0], height=big[1])
        self.crop, self.augment = int(crop), augment
        self.zoom, self.focus = (float(zoom[0]), float(zoom[1])), float(focus)
        if picks is None:
            n_search = int(round(n * search_share))
            picks = [
                ("search", seed, i) if i < n_search else ("train", seed + 1, i - n_search) for i in range(n)
            ]
        n = len(picks)
        self.images = np.zeros((n, height, width, 3), np.uint8)  # (N, H, W, 3)
        self.masks = np.zeros((n, len(CLASSES), height, width), bool)  # (N, C, H, W)
        self.labelled = np.zeros((n, len(CLASSES)), np.float32)  # (N, C)
        k_xy = np.array([width / big[0], height / big[1]])

        def shrink(poly: NDArray[np.float64] | None) -> NDArray[np.float64] | None:
            # pixel centres: x_small + 0.5 = (x_big + 0.5) * scale
            return None if poly is None else (poly + 0.5) * k_xy - 0.5

        for i, (mode, s, k) in enumerate(picks):
            photo = render_index(arrays, mode, s, k, cfg)
            if big != (width, height):
                self.images[i] = cv2.resize(photo.image, (width, height), interpolation=cv2.INTER_AREA)
                self.masks[i, 0] = polygon_mask(shrink(photo.screw_polygon), height, width)
                self.masks[i, 1] = polygon_mask(shrink(photo.coin_polygon), height, width)
            else:
                self.images[i] = photo.image
                self.masks[i, 0], self.masks[i, 1] = studio_masks(photo)
            kind = photo.meta["kind"]
            self.labelled[i] = [kind != "coin", kind != "screw"]

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        img, m = self.images[i], self.masks[i]
        if self.augment:
            if self.crop:
                img, m = self._zoom_crop(img, m)
            if torch.rand(()) < 0.5:
                img, m = img[:, ::-1], m[:, :, ::-1]
            if torch.rand(()) < 0.5:
                img, m = img[::-1], m[:, ::-1]
        x = torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1).float()  # (3, H, W)
        y = torch.from_numpy(np.ascontiguousarray(m).astype(np.float32))  # (C, H, W)
        return x, y, torch.from_numpy(self.labelled[i].copy())

    def _zoom_crop(
        self, img: NDArray[np.uint8], m: NDArray[np.bool_]
    ) -> tuple[NDArray[np.uint8], NDArray[np.bool_]]:
        """A random ``crop`` x ``crop`` window at a random zoom (log-uniform in ``zoom``).

        A zoom ``z`` takes a ``crop / z`` px window of the photo and resizes it to ``crop`` px, so the net sees
        screws larger (z > 1) or smaller (z < 1) than rendered. With probability ``focus`` the window is centred
        on a random labelled object pixel (screw pixels are rare in random windows).
        """
        h, w = img.shape[:2]
        lo, hi = np.log(self.zoom[0]), np.log(self.zoom[1])
        z = float(np.exp(lo + (hi - lo) * float(torch.rand(()))))
        side = int(min(h, w, max(16, round(self.crop / z))))
        if self.focus > 0 and float(torch.rand(())) < self.focus and m.any():
            ys, xs = np.nonzero(m.any(axis=0))
            k = int(torch.randint(0, len(ys), ()))
            jy, jx = (torch.rand(2) - 0.5).tolist()
            cy, cx = ys[k] + jy * side * 0.6, xs[k] + jx * side * 0.6
            y0 = int(np.clip(round(cy - side / 2), 0, h - side))
            x0 = int(np.clip(round(cx - side / 2), 0, w - side))
        else:
            y0 = int(torch.randint(0, h - side + 1, ()))
            x0 = int(torch.randint(0, w - side + 1, ()))
        img, m = img[y0 : y0 + side, x0 : x0 + side], m[:, y0 : y0 + side, x0 : x0 + side]
        if side != self.crop:
            interp = cv2.INTER_AREA if side > self.crop else cv2.INTER_LINEAR
            img = np.asarray(cv2.resize(img, (self.crop, self.crop), interpolation=interp), np.uint8)
            # Masks go through the same linear resampling, then back to 0/1 at half coverage.
            m = np.stack(
                [
                    cv2.resize(c.astype(np.float32), (self.crop, self.crop), interpolation=interp) >= 0.5
                    for c in m
                ]
            )
        return img, m


def labelme_item(
    json_path: Path, classes: tuple[str, ...] = CLASSES, size: int | tuple[int, int] | None = None
) -> tuple[NDArray[np.uint8], list[NDArray[np.bool_]], list[bool]]:
    """Read one labelme file: the photo, one mask per class, and which classes were labelled.

    ``size`` (an int for a square, or ``(height, width)``) fits the photo inside that canvas, keeping its aspect,
    and pads the rest with black / unlabelled-as-background pixels.

    Raises:
        AnnotationError: malformed JSON (from core.annotation).
        DatasetError: the photo it names cannot be read.
    """
    from core.annotation import load_label_file, shapes_to_mask

    lf = load_label_file(json_path)
    img_path = (json_path.parent / lf.image_path).resolve()
    bgr = cv2.imread(str(img_path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise DatasetError("cannot read the photo this label file names; fix imagePath", path=img_path)
    image = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    h, w = image.shape[:2]
    flags = {**lf.flags}
    present = {s.label for s in lf.shapes}
    masks = [shapes_to_mask(lf.shapes, h, w, label=c) for c in classes]
    labelled = [
        c in present or flags.get(f"labelled_{c}", False) or flags.get("complete", False) for c in classes
    ]
    if size is not None:
        ch, cw = (size, size) if isinstance(size, int) else size
        s = min(ch / h, cw / w)
        nw, nh = min(max(int(round(w * s)), 1), cw), min(max(int(round(h * s)), 1), ch)
        image = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA)
        masks = [
            cv2.resize(m.astype(np.uint8), (nw, nh), interpolation=cv2.INTER_NEAREST).astype(bool)
            for m in masks
        ]
        canvas = np.zeros((ch, cw, 3), np.uint8)
        canvas[:nh, :nw] = image
        image = canvas
        padded = []
        for m in masks:
            mm = np.zeros((ch, cw), bool)
            mm[:nh, :nw] = m
            padded.append(mm)
        masks = padded  # type: ignore
    return image, masks, labelled  # type: ignore


class LabelmeSegDataset(Dataset):
    """Every labelme JSON under ``root`` (recursively) that labels at least one of ``classes``.

    Photos are fitted into ``size`` (an int for a square or ``(height, width)``) and padded, so they batch with
    studio photos of that size.

    Raises:
        DatasetError: the folder is missing or holds no usable label file.
    """

    def __init__(
        self, root: str | Path, classes: tuple[str, ...] = CLASSES, size: int | tuple[int, int] = 256
    ):
        self.root, self.classes, self.size = Path(root), classes, size
        if not self.root.is_dir():
            raise DatasetError("dataset folder not found", path=self.root)
        self.files: list[Path] = []
        for p in sorted(self.root.rglob("*.json")):
            try:
                raw = json.loads(p.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if not isinstance(raw, dict) or "shapes" not in raw:
                continue
            labels = {s.get("label") for s in raw.get("shapes", []) if isinstance(s, dict)}
            flags = raw.get("flags") or {}
            if (
                labels & set(classes)
                or flags.get("complete")
                or any(flags.get(f"labelled_{c}") for c in classes)
            ):
                self.files.append(p)
        if not self.files:
            raise DatasetError(
                f"no labelme file under this folder labels any of {list(classes)}; label screws/coins first",
                path=self.root,
            )

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return _to_item(*labelme_item(self.files[i], self.classes, self.size))


def locator_blobs(
    mode: str,
    seed: int,
    n: int,
    width: int = 512,
    height: int = 384,
    refine_zoom: float = 1.0,
    segmenter: str | None = None,
    desc: str = "blobs",
    progress: bool = True,
    grabcut: Any | None = None,
    edgenet: str | None = None,
) -> Iterator[tuple[int, Any, Any]]:
    """``(index, photo, segmentation)`` for ``n`` studio photos of one ``mode`` / dataset ``seed``: the
    locator's screw blobs (segmenter + GrabCut edges, :meth:`core.locate.Locator.screw_blobs`), the training
    data of the models that correct them (blob verifier, EdgeNet). ``refine_zoom`` 1.6 at 1280x960 gives the
    search engine's blobs; ``segmenter`` defaults to the shipped file; ``grabcut`` (a
    :class:`core.segment.refine.GrabCutConfig`) defaults to the locator's (the settings a shipped file was
    collected with may be older: see :func:`grabcut_from_args`). ``edgenet``: an EdgeNet file that redraws the
    blobs after GrabCut, as the locator does before its verifier scores them (None: GrabCut's blobs, what
    EdgeNet itself is trained on)."""
    from tqdm import tqdm

    from core.catalog.catalog import load_arrays
    from core.locate.pipeline import Locator
    from core.locate.types import LocateConfig
    from core.paths import models_dir
    from core.synth import StudioConfig, render_index

    seg_path = segmenter or str(models_dir() / "segmenter" / "segmenter.safetensors")
    config = None if grabcut is None else LocateConfig(grabcut=grabcut)  # None: the locator's own settings
    loc = Locator.from_files(
        seg_path, threads=1, refine_zoom=refine_zoom, config=config, edgenet_path=edgenet
    )
    arrays = load_arrays()
    cfg = StudioConfig(width=width, height=height)
    for i in tqdm(range(n), desc=f"{desc} {mode} seed {seed}", disable=not progress):
        photo = render_index(arrays, mode, seed, i, cfg)
        yield i, photo, loc.screw_blobs(photo.image)


def add_blob_collect_args(parser: Any) -> None:
    """The arguments of a ``collect`` command over :func:`locator_blobs` (an argparse parser)."""
    parser.add_argument("--mode", default="search", choices=("search", "short", "train"), help="studio mode")
    parser.add_argument("--seed", type=int, required=True, help="dataset seed (never a held-out one)")
    parser.add_argument("--n", type=int, default=1000, help="photos")
    parser.add_argument("--width", type=int, default=512)
    parser.add_argument("--height", type=int, default=384)
    parser.add_argument(
        "--refine-zoom", type=float, default=1.0, help="the search engine uses 1.6 on 1280x960"
    )
    parser.add_argument("--segmenter", default=None, help="segmenter file (default: the shipped one)")
    from core.locate.types import LocateConfig

    gc = LocateConfig().grabcut
    parser.add_argument(
        "--grabcut-iterations",
        type=int,
        default=gc.iterations,
        help="GrabCut iterations of the blobs (default: the locator's; files collected before session 13 used 3)",
    )
    parser.add_argument(
        "--grabcut-max-pixels",
        type=int,
        default=gc.max_pixels,
        help="GrabCut boxes larger than this are cut shrunk (default: the locator's; 0 = never, as before "
        "session 11)",
    )
    parser.add_argument("--out", required=True)


def grabcut_from_args(a: Any) -> Any:
    """The :class:`core.segment.refine.GrabCutConfig` of a ``collect`` command's arguments: the locator's, with
    the iterations and box limit given (ConfigError for bad values)."""
    from dataclasses import replace

    from core.locate.types import LocateConfig

    return replace(LocateConfig().grabcut, iterations=a.grabcut_iterations, max_pixels=a.grabcut_max_pixels)


def refuse_heldout_seed(seed: int) -> None:
    """ConfigError for the dataset seeds of the final figures (segmenter photos, short photos, search photos)."""
    if seed in (HELDOUT_SEED, HELDOUT_SEED + 1, 4_000_000):
        raise ConfigError(f"seed {seed} is held out for the final figures; pick another", field="seed")
