"""Studio data for the structure/texture study: rendered screws labelled by head type.

Photos come from the photo studio (:mod:`core.synth`): one screw per photo, no coin, no distractors,
rotated to canonical pose (head to the right, from the renderer's ``angle_deg``), cropped to the
screw, put on a mid-gray background and resized. The renderer's coverage mask gives a silhouette (black on white, as
Geirhos' silhouettes). Photos are split by SKU (test SKUs are never seen), decomposed with RTV, and
cue-conflict images are built inside each split: structure layer of photo A + texture layer of photo B,
``s = head(A)``, ``t = head(B)``, ``s != t``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from core.errors import ConfigError, DatasetError
from core.texture.cueconflict import build_swapped_set
from core.texture.study import StudyData, layers

__all__ = ["DEFAULT_HEADS", "render_crops", "prepare_studio"]

DEFAULT_HEADS = ("flat", "hex", "button", "wing", "carriage", "eye")


def _crop(
    img: NDArray[np.uint8], mask: NDArray[np.float32], size: int, angle_deg: float = 0.0
) -> tuple[NDArray, NDArray]:
    """Square crop around the screw in canonical pose (head to the right: rotated by ``angle_deg``) on a
    mid-gray background (the scene's background texture would otherwise be the strongest texture cue),
    and its silhouette (black on white)."""
    from PIL import Image

    h, w = mask.shape
    pad = max(h, w) // 2
    m = mask[..., None]
    fg = np.pad(
        (m * img + (1 - m) * 128.0).astype(np.uint8), ((pad, pad), (pad, pad), (0, 0)), constant_values=128
    )
    mk = np.pad((mask * 255).astype(np.uint8), pad)
    ys, xs = np.nonzero(mk > 127)
    if len(xs) == 0:
        ys, xs = np.array([pad, pad + h - 1]), np.array([pad, pad + w - 1])
    center = ((xs.min() + xs.max()) / 2, (ys.min() + ys.max()) / 2)
    fg_img = Image.fromarray(fg).rotate(
        angle_deg, Image.Resampling.BILINEAR, center=center, fillcolor=(128, 128, 128)
    )
    mk_img = Image.fromarray(mk).rotate(angle_deg, Image.Resampling.BILINEAR, center=center, fillcolor=0)
    ys, xs = np.nonzero(np.asarray(mk_img) > 127)
    if len(xs) == 0:
        ys, xs = np.array([pad, pad + h - 1]), np.array([pad, pad + w - 1])
    cx, cy = (xs.min() + xs.max()) / 2, (ys.min() + ys.max()) / 2
    half = int(max(xs.max() - xs.min(), ys.max() - ys.min()) / 2 * 1.1 + 2)
    box = (int(cx) - half, int(cy) - half, int(cx) + half, int(cy) + half)
    photo = fg_img.crop(box).resize((size, size), Image.Resampling.BILINEAR)
    sil = Image.fromarray(255 - np.asarray(mk_img)).crop(box).resize((size, size), Image.Resampling.BILINEAR)
    sil_f = np.repeat(np.asarray(sil, np.float32)[..., None] / 255.0, 3, -1)
    return np.asarray(photo, np.float32) / 255.0, sil_f


def render_crops(
    heads: tuple[str, ...] = DEFAULT_HEADS, n_per_class: int = 60, size: int = 48, seed: int = 0
) -> tuple[NDArray[np.float32], NDArray[np.float32], NDArray[np.int64], list[str]]:
    """Render ``n_per_class`` screw photos of every head type.

    Returns:
        ``(photos (N, S, S, 3), silhouettes (N, S, S, 3), labels (N,), sku_ids)``, float32 in [0, 1].
    """
    from core.catalog import HEADS, load_arrays
    from core.synth import StudioConfig, render_photo

    unknown = [h for h in heads if h not in HEADS]
    if unknown:
        raise ConfigError(f"unknown head type(s) {unknown}; valid: {', '.join(HEADS)}", field="heads")
    if len(set(heads)) < 2:
        raise DatasetError("the dataset has one class; give at least 2 head types")
    if n_per_class < 2:
        raise ConfigError(f"n_per_class must be >= 2, got {n_per_class}", field="n_per_class")
    arrays = load_arrays()
    cfg = StudioConfig(width=224, height=168, distractor_prob=0.0, finger_prob=0.0, keep_masks=True)
    rng = np.random.default_rng(seed)
    photos, sils, labels, ids = [], [], [], []
    for ci, head in enumerate(heads):
        rows = np.flatnonzero(arrays.head_idx == HEADS.index(head))
        for row in rng.choice(rows, size=n_per_class, replace=len(rows) < n_per_class):
            ph = render_photo(arrays.sku(int(row)), int(rng.integers(2**31)), cfg, "screw")
            assert ph.screw_mask is not None  # keep_masks=True
            p, s = _crop(ph.image, ph.screw_mask, size, float(ph.meta.get("angle_deg", 0.0)))
            photos.append(p)
            sils.append(s)
            labels.append(ci)
            ids.append(arrays.sku(int(row)).id)
    return np.stack(photos), np.stack(sils), np.asarray(labels, np.int64), ids


def prepare_studio(
    heads: tuple[str, ...] = DEFAULT_HEADS,
    n_per_class: int = 60,
    size: int = 48,
    test_fraction: float = 0.3,
    swaps_per_photo: int = 1,
    seed: int = 0,
    rtv: dict[str, Any] | None = None,
    device: str = "cpu",
) -> StudyData:
    """Studio photos split by SKU, decomposed, with cue-conflict images built inside each split."""
    if not (0 < test_fraction < 1):
        raise ConfigError(f"test_fraction must be in (0, 1), got {test_fraction}", field="test_fraction")
    photos, sils, labels, ids = render_crops(heads, n_per_class, size, seed)
    structure, texture_img = layers(photos, {"lam": 0.01, "sigma": 1.0, **(rtv or {})}, device)
    tex_layer = texture_img - 0.5  # signed texture
    rng = np.random.default_rng(seed + 1)
    uniq = sorted(set(ids))
    test_ids = set(
        rng.choice(uniq, size=max(1, int(round(test_fraction * len(uniq)))), replace=False).tolist()
    )
    te = np.array([i in test_ids for i in ids])
    parts = {}
    for name, m in (("train", ~te), ("test", te)):
        if len(np.unique(labels[m])) < 2:
            raise DatasetError(f"the {name} split has fewer than 2 head types; render more photos")
        imgs, s, t, a, b = build_swapped_set(
            structure[m], tex_layer[m], labels[m], swaps_per_photo * int(m.sum()), seed=seed + 2
        )
        parts[name] = (imgs, structure[m][a], np.clip(0.5 + tex_layer[m][b], 0, 1), s, t)
    return StudyData(
        [str(h) for h in heads],
        *parts["train"],
        *parts["test"],
        plain_image=sils[te],
        plain_label=labels[te],
        test_shape_ids=sorted(test_ids),
        train_clean=photos[~te],
        train_clean_label=labels[~te],
        test_clean=photos[te],
        test_clean_label=labels[te],
    )
