"""Datasets of studio photos: generation (optionally multi-process), the default set, contact sheets."""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

import cv2
import numpy as np
from numpy.typing import NDArray

from core.catalog.catalog import SKU, CatalogArrays, load_arrays
from core.errors import ConfigError
from core.paths import annotations_dir
from core.synth.labels import to_labelme, write_label_json
from core.synth.render import PhotoKind, StudioConfig, SynthPhoto, background_kind, pick_sku, render_photo

__all__ = [
    "Mode",
    "MODES",
    "photo_seed",
    "plan_photo",
    "render_index",
    "matching_indices",
    "generate_dataset",
    "prewarm",
    "ensure_default_dataset",
    "contact_sheet",
]

Mode = Literal["search", "train", "short"]
MODES: Final[tuple[str, ...]] = ("search", "train", "short")
_SHORT_SHARE: Final[float] = 0.1  # share of short screws in search/train photos
_COIN_ONLY_SHARE: Final[float] = 0.1  # the seed's training recipe: 10 % coin-only, 90 % screw-only


def photo_seed(seed: int, index: int) -> int:
    """The seed of photo ``index`` of a dataset generated with ``seed`` (independent streams)."""
    return int(np.random.SeedSequence([seed, index]).generate_state(1)[0])


def plan_photo(arrays: CatalogArrays, mode: str, seed: int, index: int) -> tuple[SKU | None, PhotoKind, int]:
    """What photo ``index`` shows: (SKU, kind, photo seed), deterministic."""
    if mode not in MODES:
        raise ConfigError(f"unknown mode {mode!r}; valid: {', '.join(MODES)}", field="mode")
    ps = photo_seed(seed, index)
    rng = np.random.default_rng([ps, 1])
    kind: PhotoKind = "screw_coin"
    if mode == "train":
        kind = "coin" if rng.random() < _COIN_ONLY_SHARE else "screw"
    short = mode == "short" or rng.random() < _SHORT_SHARE
    sku = None if kind == "coin" else pick_sku(arrays, rng, short=short)
    return sku, kind, ps


def render_index(arrays: CatalogArrays, mode: str, seed: int, index: int, config: StudioConfig) -> SynthPhoto:
    """Render photo ``index`` of a dataset."""
    sku, kind, ps = plan_photo(arrays, mode, seed, index)
    return render_photo(sku, ps, config, kind)


def matching_indices(
    arrays: CatalogArrays,
    mode: str,
    seed: int,
    n: int,
    finish: str | None = None,
    background: str | None = None,
    scan: int = 1_000_000,
) -> list[int]:
    """The first ``n`` photo indices of a dataset whose screw has ``finish`` and whose background is
    ``background`` (None = any): hard cases to add to a training set, e.g. a finish the segmenter misses on one
    background. Photo ``i`` is the same photo as in the whole dataset (same seed, same file name).

    Raises:
        ConfigError: an unknown finish, background or mode, or fewer than ``n`` matches in the first ``scan``
            indices.
    """
    from core.catalog.taxonomy import FINISHES
    from core.synth.scene import BACKGROUNDS

    if finish is not None and finish not in FINISHES:
        raise ConfigError(f"unknown finish {finish!r}; valid: {', '.join(FINISHES)}", field="finish")
    if background is not None and background not in BACKGROUNDS:
        raise ConfigError(
            f"unknown background {background!r}; valid: {', '.join(BACKGROUNDS)}", field="background"
        )
    out: list[int] = []
    for i in range(scan):
        if len(out) == n:
            break
        sku, _, ps = plan_photo(arrays, mode, seed, i)
        if finish is not None and (sku is None or sku.attributes()["finish"] != finish):
            continue
        if background is not None and background_kind(ps) != background:
            continue
        out.append(i)
    if len(out) < n:
        raise ConfigError(
            f"only {len(out)} of the first {scan:,} photos of seed {seed} match (finish {finish}, background "
            f"{background}); ask for fewer",
            field="n",
        )
    return out


@dataclass(frozen=True)
class _Job:
    out: str
    mode: str
    seed: int
    config: StudioConfig
    catalog: str | None


_ARRAYS: dict[str | None, CatalogArrays] = {}


def _arrays(catalog: str | None) -> CatalogArrays:
    if catalog not in _ARRAYS:  # one load per worker process
        _ARRAYS[catalog] = load_arrays(catalog)
    return _ARRAYS[catalog]


def _write_one(job: _Job, index: int) -> dict[str, Any]:
    cv2.setNumThreads(1)
    photo = render_index(_arrays(job.catalog), job.mode, job.seed, index, job.config)
    stem = f"synth_{index:06d}"
    out = Path(job.out)
    if photo.jpeg is not None:
        name = f"{stem}.jpg"
        (out / name).write_bytes(photo.jpeg)
    else:
        name = f"{stem}.png"
        cv2.imwrite(str(out / name), cv2.cvtColor(photo.image, cv2.COLOR_RGB2BGR))
    write_label_json(out / f"{stem}.json", to_labelme(photo, name))
    return photo.meta


def _star(args: tuple[_Job, int]) -> dict[str, Any]:
    return _write_one(*args)


def generate_dataset(
    out: str | Path,
    n: int,
    seed: int = 0,
    mode: str = "search",
    config: StudioConfig | None = None,
    workers: int = 1,
    catalog: str | Path | None = None,
    progress: bool = False,
    indices: list[int] | None = None,
) -> list[dict[str, Any]]:
    """Write ``n`` photos + labelme JSON files into ``out``; returns the ``fvw`` metadata of each.

    Args:
        out: output folder (created).
        n: number of photos.
        seed: dataset seed; photo i uses :func:`photo_seed` (seed, i), so any subset is reproducible.
        mode: ``search`` (screw + coin), ``train`` (10 % coin-only, 90 % screw-only), ``short``.
        config: studio settings.
        workers: processes (1 = in this process).
        catalog: SQLite catalog (default catalog when None).
        progress: show a tqdm progress bar.
        indices: write these photos of the dataset instead of the first ``n`` (e.g. :func:`matching_indices`).
    """
    if indices is not None:
        n = len(indices)
    if n < 1:
        raise ConfigError(f"n must be >= 1, got {n}", field="n")
    if mode not in MODES:
        raise ConfigError(f"unknown mode {mode!r}; valid: {', '.join(MODES)}", field="mode")
    if workers < 1:
        raise ConfigError(f"workers must be >= 1, got {workers}", field="workers")
    outp = Path(out)
    outp.mkdir(parents=True, exist_ok=True)
    job = _Job(str(outp), mode, seed, config or StudioConfig(), str(catalog) if catalog else None)
    _arrays(job.catalog)  # build the default catalog once, before the workers start
    tasks = [(job, i) for i in (range(n) if indices is None else indices)]
    it: Iterator[dict[str, Any]]
    if workers == 1:
        it = map(_star, tasks)
        metas = list(_progress(it, n, progress))
    else:
        # spawn, not fork: forking after OpenCV started its thread pool can deadlock the children.
        with mp.get_context("spawn").Pool(workers) as pool:
            metas = list(_progress(pool.imap(_star, tasks, chunksize=4), n, progress))
    return metas


def prewarm(config: StudioConfig) -> None:
    """Fill this process's caches (all base backgrounds, noise, vignette) for ``config``'s size."""
    from core.synth import scene

    h, w = config.height, config.width
    for kind in scene.BACKGROUNDS:
        for variant in range(scene.VARIANTS):
            scene.base_texture(kind, variant, h, w)
    scene.noise_field(h, w)
    scene.vignette(h, w)


def _progress(it: Iterator[dict[str, Any]], n: int, show: bool) -> Iterator[dict[str, Any]]:
    if not show:
        return it
    from tqdm import tqdm

    return iter(tqdm(it, total=n, unit="photo"))


def ensure_default_dataset(root: str | Path | None = None, n: int = 48) -> Path:
    """Generate the small embedded default dataset (search photos, 640x480) unless it exists (< 30 s)."""
    root = Path(root) if root is not None else annotations_dir() / "synthetic-default"
    if root.is_dir() and len(list(root.glob("*.json"))) >= n:
        return root
    generate_dataset(root, n, seed=0, mode="search", config=StudioConfig(width=640, height=480))
    return root


def contact_sheet(
    photos: list[SynthPhoto], cols: int = 6, cell: tuple[int, int] = (320, 240), outline: bool = True
) -> NDArray[np.uint8]:
    """A grid of photos (RGB uint8), each captioned with its SKU id, polygons outlined if asked."""
    cw, ch = cell
    rows = (len(photos) + cols - 1) // cols
    sheet = np.full((rows * (ch + 18), cols * cw, 3), 255, np.uint8)
    for k, p in enumerate(photos):
        im = p.image.copy()
        if outline:
            for poly, col in ((p.screw_polygon, (255, 40, 40)), (p.coin_polygon, (40, 120, 255))):
                if poly is not None:
                    cv2.polylines(
                        im,
                        [np.round(poly).astype(np.int32)],
                        True,
                        col,
                        max(1, im.shape[1] // 400),
                        cv2.LINE_AA,
                    )
        im = np.asarray(cv2.resize(im, (cw, ch), interpolation=cv2.INTER_AREA), np.uint8)
        r, c = divmod(k, cols)
        y, x = r * (ch + 18), c * cw
        sheet[y : y + ch, x : x + cw] = im
        label = f"{k + 1}. {p.meta.get('sku_id') or 'coin only'}"
        cv2.putText(
            sheet, label, (x + 4, y + ch + 13), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (0, 0, 0), 1, cv2.LINE_AA
        )
    return sheet
