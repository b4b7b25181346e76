"""Attribute crops from a labelme folder: the labelled screw polygons of real (or studio) photos.

A screw is a shape labelled ``screw`` with an area type (polygon, mask, rectangle...) whose ``attributes``
dict names the attribute's value, e.g. ``{"head": "pan", "tip": "sharp"}``: the format the workbench's Label
page (:mod:`core.labelling`) and the photo studio (:mod:`core.synth`) write. Each screw is cut with
:func:`core.attributes.data.crops_from_mask` from the polygon's mask, the same code the search engine runs on
a predicted mask (head side from the mask's shape, as the engine does without a rotation network).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from core.errors import AnnotationError, DatasetError, NoScrewFoundError

if TYPE_CHECKING:
    from core.annotation import LabelFile

__all__ = ["SCREW_LABEL", "LabelledCrops", "ScrewLabel", "scan_labels", "load_labelled_crops"]

SCREW_LABEL = "screw"


@dataclass(frozen=True)
class ScrewLabel:
    """One labelled screw: where it is and which value it carries.

    Attributes:
        photo: the photo's path relative to the dataset root (POSIX), the unit of the train/held-out split.
        json_path: its labelme file.
        shape_index: index of the shape in the file.
        value: the attribute value (a taxonomy key).
    """

    photo: str
    json_path: Path
    shape_index: int
    value: str


@dataclass
class LabelledCrops:
    """Crops of one attribute with their labels and photos.

    Attributes:
        attribute: ``head`` | ``finish`` | ``tip`` | ``thread``.
        x: (N, H, W, 3) uint8 RGB crops, the classifier input of :data:`core.attributes.data.INPUT_SIZE`.
        y: (N,) int64 class indices in taxonomy order.
        photos: (N,) photo of each crop (see :class:`ScrewLabel`).
        skipped: one line per screw that could not be cut (mask under 20 pixels...).
    """

    attribute: str
    x: NDArray[np.uint8]
    y: NDArray[np.int64]
    photos: list[str]
    skipped: list[str]

    def subset(self, photos: set[str]) -> tuple[NDArray[np.uint8], NDArray[np.int64]]:
        """The crops and labels of the screws in ``photos``."""
        idx = np.asarray([i for i, p in enumerate(self.photos) if p in photos], np.int64)
        return self.x[idx], self.y[idx]


def _label_files(root: Path) -> list[tuple[Path, LabelFile]]:
    """Every labelme JSON under ``root`` (other JSON files such as split.json are not label files)."""
    from core.annotation import Dataset, is_label_dict, label_file_from_dict

    ds = Dataset(root)
    out: list[tuple[Path, LabelFile]] = []
    for p in ds.json_files():
        try:
            raw = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as e:
            raise AnnotationError(f"not readable JSON ({e}); fix or remove the file", path=p) from e
        if is_label_dict(raw):
            out.append((p, label_file_from_dict(raw, p)))
    return out


def scan_labels(root: str | Path, attribute: str) -> list[ScrewLabel]:
    """Every screw shape under ``root`` that carries a value for ``attribute`` (no image is read).

    Raises:
        DatasetError: ``root`` is not a folder, or no screw in it has a value for ``attribute``.
        AnnotationError: a value is not in the taxonomy (the message lists the valid ones and the files).
        InputError: ``attribute`` is unknown.
    """
    from core.annotation import AREA_SHAPE_TYPES
    from core.catalog.taxonomy import values_of

    valid = values_of(attribute)
    root_p = Path(root)
    if not root_p.is_dir():
        raise DatasetError("labelme folder not found; give a folder of photos with labelme JSON", path=root)
    files = _label_files(root_p)
    found: list[ScrewLabel] = []
    unknown: list[str] = []
    screws = 0
    for json_path, lf in files:
        photo = _photo_key(root_p, json_path, lf.image_path)
        for k, s in enumerate(lf.shapes):
            if s.label != SCREW_LABEL or s.shape_type not in AREA_SHAPE_TYPES:
                continue
            screws += 1
            attrs = s.extra.get("attributes")
            value = attrs.get(attribute) if isinstance(attrs, dict) else None
            if value is None or value == "":
                continue
            if value not in valid:
                unknown.append(f"{value!r} in {json_path.name} (shape {k})")
                continue
            found.append(ScrewLabel(photo, json_path, k, str(value)))
    if unknown:
        shown = "; ".join(unknown[:5]) + (f"; and {len(unknown) - 5} more" if len(unknown) > 5 else "")
        raise AnnotationError(
            f"{len(unknown)} {attribute} value(s) unknown to the taxonomy: {shown}. "
            f"Valid {attribute} values: {', '.join(valid)}. Correct them in the workbench's Label page",
            path=root,
            field=f"attributes.{attribute}",
        )
    if not found:
        raise DatasetError(
            f"no labelled screws for {attribute!r}: {len(files)} label files, {screws} screw shapes, none with "
            f"an attributes.{attribute} value. Label screws (label 'screw', attribute {attribute}) in the "
            "workbench's Label page, or point --data at a folder that has them",
            path=root,
        )
    return found


def _photo_key(root: Path, json_path: Path, image_path: str) -> str:
    from core.annotation import resolve_under_root

    try:
        return resolve_under_root(root, json_path.parent, image_path).relative_to(root.resolve()).as_posix()
    except ValueError:  # pragma: no cover - resolve_under_root already refuses escapes
        return json_path.relative_to(root).with_suffix("").as_posix()


def _coin_gains(lf: Any, image: NDArray[np.uint8]) -> NDArray[np.float32] | None:
    """The coin white balance of a labelled photo: its first area shape labelled ``coin`` whose description
    (or ``coin`` attribute) names a known coin type, as the studio writes; None without one."""
    from core.annotation import AREA_SHAPE_TYPES, shape_to_mask
    from core.attributes.colour import COIN_REFERENCE_RGB, coin_gains

    h, w = image.shape[:2]
    for s in lf.shapes:
        if s.label != "coin" or s.shape_type not in AREA_SHAPE_TYPES:
            continue
        attrs = s.extra.get("attributes")
        kind = str((attrs.get("coin") if isinstance(attrs, dict) else None) or s.description or "")
        gains = coin_gains(image, shape_to_mask(s, h, w), kind) if kind in COIN_REFERENCE_RGB else None
        if gains is not None:
            return gains
    return None


def load_labelled_crops(root: str | Path, attribute: str, key: str = "") -> LabelledCrops:
    """Cut the classifier input of ``attribute`` from every labelled screw under ``root``.

    ``key`` is the crop the model reads when it is not the attribute's own (its checkpoint's ``input``, e.g.
    ``finish_wb``: the finish white-balanced by a coin shape whose description names the coin type; photos
    without one give the unbalanced crop).

    Raises:
        DatasetError / AnnotationError / InputError: see :func:`scan_labels`; also a photo that is
            missing (ImageReadError) or whose size differs from the label file's imageHeight/imageWidth.
    """
    from core.annotation import Dataset, shape_to_mask
    from core.attributes.data import crops_from_mask
    from core.catalog.taxonomy import index_of
    from core.imageio import read_image

    labels = scan_labels(root, attribute)
    ds = Dataset(root)
    xs: list[NDArray[np.uint8]] = []
    ys: list[int] = []
    photos: list[str] = []
    skipped: list[str] = []
    by_file: dict[Path, list[ScrewLabel]] = {}
    for lab in labels:
        by_file.setdefault(lab.json_path, []).append(lab)
    for json_path, labs in by_file.items():
        item = ds.item(json_path)
        lf = item.label_file
        image = read_image(
            item.image_path if item.image_path is not None else item.image_bytes(), max_pixels=0
        )
        h, w = image.shape[:2]
        if (lf.image_height, lf.image_width) not in ((None, None), (h, w)):
            raise AnnotationError(
                f"the photo is {w}x{h} but the label file says {lf.image_width}x{lf.image_height}; "
                "relabel the photo (the polygons would not match)",
                path=json_path,
                field="imageHeight",
            )
        gains = _coin_gains(lf, image) if key == "finish_wb" else None
        for lab in labs:
            mask = shape_to_mask(lf.shapes[lab.shape_index], h, w)
            try:
                crops, _ = crops_from_mask(image, mask, gains=gains)
            except NoScrewFoundError as e:
                skipped.append(f"{json_path.name} shape {lab.shape_index}: {e.message}")
                continue
            xs.append(crops.as_dict()[key or attribute])
            ys.append(index_of(attribute, lab.value))
            photos.append(lab.photo)
    if not xs:
        raise DatasetError(
            f"none of the {len(labels)} labelled screws could be cut: {skipped[:3]}", path=root
        )
    return LabelledCrops(attribute, np.stack(xs), np.asarray(ys, np.int64), photos, skipped)
