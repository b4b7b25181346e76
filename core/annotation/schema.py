"""labelme JSON, read and written exactly: every field labelme knows, and every key it does not.

A labelme file is a JSON object with ``shapes``, ``imagePath`` and ``imageData`` (plus, since 3.x,
``version``, ``flags``, ``imageHeight``, ``imageWidth``). Older files lack ``version``, ``shape_type``
(then a shape is a polygon) or ``flags`` (or have it ``null``); labelme < 4 adds ``lineColor`` /
``fillColor``; X-AnyLabeling adds ``score``, ``attributes``, ``difficult``, ``kie_linking``, ``text``...
Keys this module does not model are kept in ``extra`` and written back unchanged, after the known ones.

Malformed input raises :class:`~core.errors.AnnotationError` naming the file and the field
(``shapes[3].points``), so a user can open the file and fix it.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path, PureWindowsPath
from typing import Any, Literal, get_args

import numpy as np
from numpy.typing import NDArray

from core.annotation._atomic import atomic_write_text
from core.errors import AnnotationError

__all__ = [
    "DEFAULT_VERSION",
    "SHAPE_TYPES",
    "LabelFile",
    "Shape",
    "ShapeType",
    "is_label_dict",
    "label_file_from_dict",
    "label_file_to_dict",
    "load_label_file",
    "save_label_file",
]

ShapeType = Literal[
    "polygon",
    "rectangle",
    "circle",
    "line",
    "point",
    "linestrip",
    "points",
    "mask",
    "oriented_rectangle",
    "rotation",
]
SHAPE_TYPES: tuple[str, ...] = get_args(ShapeType)
DEFAULT_VERSION = "5.5.0"

_TOP_KEYS = ("version", "flags", "shapes", "imagePath", "imageData", "imageHeight", "imageWidth")
_SHAPE_KEYS = ("label", "points", "group_id", "description", "shape_type", "flags", "mask")


@dataclass
class Shape:
    """One annotation drawn on a photo.

    Attributes:
        label: class name.
        points: ``[[x, y], ...]`` in pixels (XY, origin top-left, labelme convention). A rectangle has
            2 corners (labelme) or 4 (X-AnyLabeling); a circle has centre then a point on the rim; a mask
            has the top-left and bottom-right pixel of its box.
        shape_type: one of :data:`SHAPE_TYPES`.
        group_id: shapes with the same label and group id form one instance.
        flags: per-shape boolean flags.
        description: free text.
        mask: for ``shape_type == "mask"``, the decoded (box height, box width) boolean mask.
        extra: keys labelme does not define, written back unchanged.
    """

    label: str
    points: list[list[float]]
    shape_type: str = "polygon"
    group_id: int | None = None
    flags: dict[str, bool] = field(default_factory=dict)
    description: str = ""
    mask: NDArray[np.bool_] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class LabelFile:
    """The content of one labelme JSON file.

    Attributes:
        shapes: the annotations, in file order (later shapes paint over earlier ones).
        image_path: the photo, relative to the JSON's folder (POSIX separators).
        image_height: declared height in pixels, or None when the file does not say.
        image_width: declared width in pixels, or None.
        flags: image-level boolean flags (classification labels).
        version: the labelme format version.
        image_data: the photo embedded as base64; only written when asked.
        extra: unknown top-level keys, written back unchanged.
    """

    shapes: list[Shape]
    image_path: str
    image_height: int | None
    image_width: int | None
    flags: dict[str, bool] = field(default_factory=dict)
    version: str = DEFAULT_VERSION
    image_data: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _fail(path: str | Path | None, fld: str, message: str) -> AnnotationError:
    return AnnotationError(f"{message}; fix this field in the labelme JSON", path=path, field=fld)


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _parse_flags(raw: Any, path: str | Path | None, fld: str) -> dict[str, bool]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise _fail(path, fld, f"flags must be an object of name -> true/false, got {type(raw).__name__}")
    for k, v in raw.items():
        if not isinstance(v, bool):
            raise _fail(path, f"{fld}.{k}", f"flag values must be true/false, got {v!r}")
    return dict(raw)


def _decode_mask(raw: str, path: str | Path | None, fld: str) -> NDArray[np.bool_]:
    import PIL.Image

    try:
        data = base64.b64decode(raw, validate=True)
        with PIL.Image.open(io.BytesIO(data)) as im:
            arr = np.asarray(im.convert("L"))
    except (binascii.Error, ValueError, OSError) as e:
        raise _fail(path, fld, f"mask must be a base64-encoded PNG ({e})") from e
    return arr > 0


def _encode_mask(mask: NDArray[np.bool_]) -> str:
    import PIL.Image

    buf = io.BytesIO()
    # 0/1 uint8 PNG, exactly what labelme writes (utils.img_arr_to_b64(mask.astype(np.uint8))).
    PIL.Image.fromarray(np.asarray(mask, dtype=np.uint8)).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _parse_shape(raw: Any, path: str | Path | None, fld: str) -> Shape:
    if not isinstance(raw, dict):
        raise _fail(path, fld, f"a shape must be an object, got {type(raw).__name__}")
    label = raw.get("label")
    if not isinstance(label, str):
        raise _fail(path, f"{fld}.label", f"label is required and must be a string, got {label!r}")
    pts = raw.get("points")
    if not isinstance(pts, list) or not pts:
        raise _fail(path, f"{fld}.points", "points must be a non-empty list of [x, y]")
    for i, p in enumerate(pts):
        if not (isinstance(p, list) and len(p) == 2 and all(_is_number(v) for v in p)):
            raise _fail(path, f"{fld}.points[{i}]", f"a point must be [x, y] with finite numbers, got {p!r}")
    shape_type = raw.get("shape_type")
    if shape_type is None:
        shape_type = "polygon"  # labelme < 3.0 had polygons only
    if shape_type not in SHAPE_TYPES:
        raise _fail(
            path, f"{fld}.shape_type", f"unknown shape_type {shape_type!r}; valid: {', '.join(SHAPE_TYPES)}"
        )
    group_id = raw.get("group_id")
    if group_id is not None and (not isinstance(group_id, int) or isinstance(group_id, bool)):
        raise _fail(path, f"{fld}.group_id", f"group_id must be an integer or null, got {group_id!r}")
    description = raw.get("description")
    if description is None:
        description = ""
    if not isinstance(description, str):
        raise _fail(path, f"{fld}.description", f"description must be a string, got {description!r}")
    mask_raw = raw.get("mask")
    mask = None
    if mask_raw is not None:
        if not isinstance(mask_raw, str):
            raise _fail(path, f"{fld}.mask", "mask must be a base64-encoded PNG string")
        mask = _decode_mask(mask_raw, path, f"{fld}.mask")
    if shape_type == "mask" and (mask is None or len(pts) != 2):
        raise _fail(path, fld, "a mask shape needs 'mask' (base64 PNG) and 2 box points")
    return Shape(
        label=label,
        points=pts,
        shape_type=shape_type,
        group_id=group_id,
        flags=_parse_flags(raw.get("flags"), path, f"{fld}.flags"),
        description=description,
        mask=mask,
        extra={k: v for k, v in raw.items() if k not in _SHAPE_KEYS},
    )


def _opt_size(raw: dict[str, Any], key: str, path: str | Path | None) -> int | None:
    v = raw.get(key)
    if v is None:
        return None
    if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
        raise _fail(path, key, f"{key} must be a positive integer or null, got {v!r}")
    return v


def is_label_dict(raw: Any) -> bool:
    """Whether a decoded JSON value looks like a labelme file at all (an object with ``shapes``)."""
    return isinstance(raw, dict) and "shapes" in raw


def label_file_from_dict(raw: Any, path: str | Path | None = None) -> LabelFile:
    """Validate a decoded labelme JSON object.

    Args:
        raw: the value ``json.load`` returned.
        path: the file it came from, for error messages.

    Raises:
        AnnotationError: naming the first bad field.
    """
    if not isinstance(raw, dict):
        raise _fail(path, "<root>", f"a labelme file is a JSON object, got {type(raw).__name__}")
    if "shapes" not in raw:
        raise _fail(path, "shapes", "not a labelme annotation: the 'shapes' list is missing")
    if not isinstance(raw["shapes"], list):
        raise _fail(path, "shapes", f"shapes must be a list, got {type(raw['shapes']).__name__}")
    image_path = raw.get("imagePath")
    if not isinstance(image_path, str) or not image_path:
        raise _fail(path, "imagePath", f"imagePath must be a non-empty string, got {image_path!r}")
    image_data = raw.get("imageData")
    if image_data is not None and not isinstance(image_data, str):
        raise _fail(path, "imageData", "imageData must be a base64 string or null")
    version = raw.get("version")
    if version is not None and not isinstance(version, str):
        raise _fail(path, "version", f"version must be a string, got {version!r}")
    return LabelFile(
        shapes=[_parse_shape(s, path, f"shapes[{i}]") for i, s in enumerate(raw["shapes"])],
        # labelme on Windows writes backslashes; the file must work on any OS.
        image_path=PureWindowsPath(image_path).as_posix(),
        image_height=_opt_size(raw, "imageHeight", path),
        image_width=_opt_size(raw, "imageWidth", path),
        flags=_parse_flags(raw.get("flags"), path, "flags"),
        version=version or DEFAULT_VERSION,
        image_data=image_data,
        extra={k: v for k, v in raw.items() if k not in _TOP_KEYS},
    )


def _shape_to_dict(shape: Shape) -> dict[str, Any]:
    out: dict[str, Any] = {
        "label": shape.label,
        "points": [[p[0], p[1]] for p in shape.points],
        "group_id": shape.group_id,
        "description": shape.description,
        "shape_type": shape.shape_type,
        "flags": dict(shape.flags),
        "mask": None if shape.mask is None else _encode_mask(shape.mask),
    }
    for k, v in shape.extra.items():
        if k not in out:
            out[k] = v
    return out


def label_file_to_dict(label_file: LabelFile, *, keep_image_data: bool = False) -> dict[str, Any]:
    """The JSON object for ``label_file``, keys in labelme's order, unknown keys after them."""
    out: dict[str, Any] = {
        "version": label_file.version,
        "flags": dict(label_file.flags),
        "shapes": [_shape_to_dict(s) for s in label_file.shapes],
        "imagePath": label_file.image_path,
        "imageData": label_file.image_data if keep_image_data else None,
        "imageHeight": label_file.image_height,
        "imageWidth": label_file.image_width,
    }
    for k, v in label_file.extra.items():
        if k not in out:
            out[k] = v
    return out


def load_label_file(path: str | Path) -> LabelFile:
    """Read a labelme JSON file.

    Raises:
        AnnotationError: the file is unreadable, not UTF-8, not JSON, or a field is malformed; the
            message names the file and the field.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise AnnotationError("file is not UTF-8 text; re-save it as UTF-8 JSON", path=path) from e
    except OSError as e:
        raise AnnotationError(f"cannot read the file ({e.strerror})", path=path) from e
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as e:
        raise AnnotationError(
            f"invalid JSON at line {e.lineno} column {e.colno}: {e.msg}; the file is damaged or "
            "truncated, restore it from a backup",
            path=path,
            field="<json>",
        ) from e
    return label_file_from_dict(raw, path)


def save_label_file(path: str | Path, label_file: LabelFile, *, keep_image_data: bool = False) -> None:
    """Write a labelme JSON file atomically (temp file beside it, then ``os.replace``).

    Args:
        path: target ``.json``.
        label_file: content to write.
        keep_image_data: embed ``image_data``; by default ``imageData`` is written as null.

    Raises:
        AnnotationError: a value cannot be serialised to JSON or the write failed; the previous file is
            left intact either way.
    """
    path = Path(path)
    try:
        text = json.dumps(
            label_file_to_dict(label_file, keep_image_data=keep_image_data),
            ensure_ascii=False,
            indent=2,
            allow_nan=False,
        )
    except (TypeError, ValueError) as e:
        raise AnnotationError(f"cannot serialise the annotation to JSON ({e})", path=path) from e
    try:
        atomic_write_text(path, text + "\n")
    except OSError as e:
        raise AnnotationError(f"writing failed, the previous file is unchanged ({e})", path=path) from e
