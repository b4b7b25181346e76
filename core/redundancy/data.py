"""Image-classification folders for the study: loading, checks, stratified folds, studio crops.

An ImageFolder-style folder holds one sub-folder per class with the class's images inside. Every image is
read as RGB and resized to ``size`` x ``size`` (so folders with images of mixed sizes work); the whole set
lives in memory as uint8, which suits the study's few thousand small images.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from PIL import Image, UnidentifiedImageError

from core.errors import DatasetError, ImageReadError, InputError

__all__ = ["IMAGE_SUFFIXES", "ImageSet", "load_image_folder", "stratified_folds", "make_studio_folder"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")


@dataclass(frozen=True)
class ImageSet:
    """A labelled image set in memory.

    Attributes:
        images: (N, size, size, 3) uint8 RGB.
        labels: (N,) int64 class indices.
        classes: Class names, index = label.
        paths: Source file of every image.
    """

    images: NDArray[np.uint8]
    labels: NDArray[np.int64]
    classes: tuple[str, ...]
    paths: tuple[str, ...]

    def counts(self) -> dict[str, int]:
        """Images per class."""
        return {c: int((self.labels == i).sum()) for i, c in enumerate(self.classes)}


def _read(path: Path, size: int) -> NDArray[np.uint8]:
    try:
        with Image.open(path) as im:
            rgb = im.convert("RGB").resize((size, size), Image.Resampling.BILINEAR)
            return np.asarray(rgb, dtype=np.uint8)
    except (UnidentifiedImageError, OSError, ValueError) as e:
        raise ImageReadError(f"cannot read the image ({e}); delete or replace the file", path=path) from e


def load_image_folder(
    root: str | Path, *, size: int = 64, folds: int = 3, max_per_class: int | None = None, seed: int = 0
) -> ImageSet:
    """Read an ImageFolder-style folder and check it can carry a ``folds``-fold study.

    Args:
        root: Folder with one sub-folder per class.
        size: Side of the square every image is resized to.
        folds: Number of cross-validation folds; every class needs at least this many images.
        max_per_class: Keep at most this many images per class (a random, seeded subset).
        seed: Seed of the subset choice.

    Raises:
        DatasetError: Missing folder, fewer than two classes, or a class with fewer images than folds.
        ImageReadError: An image file cannot be decoded.
    """
    root = Path(root)
    if size < 8:
        raise InputError(f"image size must be >= 8 pixels, got {size}", field="size")
    if folds < 2:
        raise InputError(f"folds must be >= 2, got {folds}", field="folds")
    if not root.is_dir():
        raise DatasetError(
            "the dataset folder does not exist; pass --data DIR with one sub-folder per class", path=root
        )
    rng = np.random.default_rng(seed)
    class_files: dict[str, list[Path]] = {}
    for d in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        files = sorted(f for f in d.iterdir() if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES)
        if files:
            if max_per_class is not None and len(files) > max_per_class:
                keep = sorted(rng.choice(len(files), size=max_per_class, replace=False))
                files = [files[i] for i in keep]
            class_files[d.name] = files
    if len(class_files) < 2:
        raise DatasetError(
            f"found {len(class_files)} class folder(s) with images ({', '.join(class_files) or 'none'}); "
            "a classification study needs at least two: put each class's images in its own sub-folder",
            path=root,
        )
    small = {c: len(f) for c, f in class_files.items() if len(f) < folds}
    if small:
        detail = ", ".join(f"{c!r} has {n}" for c, n in small.items())
        raise DatasetError(
            f"every class needs at least {folds} images for {folds}-fold cross-validation: {detail}; "
            "add images or lower --folds",
            path=root,
        )
    images, labels, paths = [], [], []
    for label, (_, files) in enumerate(class_files.items()):
        for f in files:
            images.append(_read(f, size))
            labels.append(label)
            paths.append(str(f))
    return ImageSet(
        images=np.stack(images),
        labels=np.asarray(labels, dtype=np.int64),
        classes=tuple(class_files),
        paths=tuple(paths),
    )


def stratified_folds(labels: NDArray[np.int64], folds: int, seed: int = 0) -> list[NDArray[np.int64]]:
    """Split indices into ``folds`` test folds, each class spread evenly; reshuffled by ``seed``.

    Returns:
        One sorted index array per fold; together they partition ``range(len(labels))``.
    """
    rng = np.random.default_rng(seed)
    parts: list[list[int]] = [[] for _ in range(folds)]
    offset = 0
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        for j, i in enumerate(idx):
            # Rotate the starting fold per class so small classes do not all land in fold 0.
            parts[(j + offset) % folds].append(int(i))
        offset += len(idx)
    return [np.asarray(sorted(p), dtype=np.int64) for p in parts]


def make_studio_folder(
    out: str | Path, n_per_class: int = 60, classes: tuple[str, ...] | None = None
) -> Path:
    """Render head-type crops with the photo studio (:mod:`core.synth`) into ``out/<class>/*.png``."""
    from core.redundancy._studio import render_head_crops

    return render_head_crops(Path(out), n_per_class, classes)
