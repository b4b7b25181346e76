"""A dataset folder in labelme layout: photos with a ``<stem>.json`` label file beside each.

Lists photos with their status (``done``: a label file with at least one shape; ``todo``: none yet;
``broken``: a label file that does not parse, shown to the user and never overwritten), finds the next
unlabelled photo, and imports a folder of photos into a dataset.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from core.errors import DatasetError, FvwError, ImageReadError
from core.inventory import PHOTO_EXTENSIONS

__all__ = ["PhotoStatus", "PhotoItem", "list_photos", "next_unlabelled", "import_photos", "read_photo"]

PhotoStatus = Literal["done", "todo", "broken"]


@dataclass(frozen=True)
class PhotoItem:
    """One photo of a dataset and the state of its label file.

    Attributes:
        image_path: the photo.
        json_path: where its labelme JSON lives (``<stem>.json`` beside it), existing or not.
        status: ``done`` / ``todo`` / ``broken``.
        n_shapes: shapes in the label file (0 when none or broken).
        labels: the label of each shape, in file order.
        error: why the label file is broken ("" otherwise).
    """

    image_path: Path
    json_path: Path
    status: PhotoStatus
    n_shapes: int = 0
    labels: tuple[str, ...] = ()
    error: str = ""

    @property
    def name(self) -> str:
        return self.image_path.name


def _check_root(root: str | Path) -> Path:
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(
            "dataset folder not found; give a folder of photos (labelme layout: photo.jpg + photo.json)",
            path=root,
        )
    return root


def list_photos(root: str | Path) -> list[PhotoItem]:
    """Every photo directly in ``root`` (sorted by name) with its label-file status.

    Raises:
        DatasetError: ``root`` is not a folder.
    """
    from core.annotation import load_label_file

    root = _check_root(root)
    items: list[PhotoItem] = []
    for path in sorted(p for p in root.iterdir() if p.is_file() and p.suffix.lower() in PHOTO_EXTENSIONS):
        json_path = path.with_suffix(".json")
        if not json_path.is_file():
            items.append(PhotoItem(path, json_path, "todo"))
            continue
        try:
            lf = load_label_file(json_path)
        except FvwError as e:
            items.append(PhotoItem(path, json_path, "broken", error=str(e)))
            continue
        labels = tuple(s.label for s in lf.shapes)
        items.append(PhotoItem(path, json_path, "done" if labels else "todo", len(labels), labels))
    return items


def next_unlabelled(items: list[PhotoItem], after: Path | None = None) -> PhotoItem | None:
    """The first ``todo`` photo after ``after`` (wrapping around), or None when every photo is done."""
    start = 0
    if after is not None:
        names = [it.image_path for it in items]
        if after in names:
            start = names.index(after) + 1
    for k in range(len(items)):
        it = items[(start + k) % len(items)]
        if it.status == "todo" and it.image_path != after:
            return it
    return None


def import_photos(source: str | Path, dataset: str | Path) -> list[Path]:
    """Copy the photos directly in ``source`` into ``dataset`` (created if needed).

    Photos whose name already exists in ``dataset`` are skipped, never overwritten.

    Returns:
        The new photo paths inside ``dataset``.

    Raises:
        DatasetError: ``source`` is not a folder or holds no photos.
    """
    source = _check_root(source)
    photos = sorted(p for p in source.iterdir() if p.is_file() and p.suffix.lower() in PHOTO_EXTENSIONS)
    if not photos:
        raise DatasetError(
            f"no photos in the folder (looked for {', '.join(sorted(PHOTO_EXTENSIONS))})", path=source
        )
    dataset = Path(dataset)
    dataset.mkdir(parents=True, exist_ok=True)
    copied: list[Path] = []
    for p in photos:
        target = dataset / p.name
        if target.exists() or target.resolve() == p.resolve():
            continue
        shutil.copy2(p, target)
        copied.append(target)
    return copied


def read_photo(path: str | Path, max_side: int | None = None) -> NDArray[np.uint8]:
    """The photo as (H, W, 3) uint8 RGB, upright (EXIF applied, as labelme shows it).

    Raises:
        ImageReadError: the file is missing, corrupt or not an image.
    """
    from core.imageio import read_image

    try:
        return read_image(path, downscale_to=max_side)
    except ImageReadError:
        raise
    except FvwError as e:
        raise ImageReadError(f"cannot read the photo: {e}", path=path) from e
