"""Read any photo a user may bring as an RGB ``uint8`` array, and write images atomically.

One place decides how a file becomes pixels, so every app and tool sees the same orientation and colours:

- formats: JPEG (including phones' multi-picture MPO files), PNG, WebP, TIFF, BMP, GIF, PPM (first frame);
- the EXIF orientation tag is applied, so the array looks like the photo does in a gallery app;
- gray, gray+alpha, RGBA, palette, CMYK, 16-bit and float images become RGB ``uint8``: alpha is
  composited on white, 16-bit values are scaled (``v * 255 / 65535``), never clipped;
- a decompression-bomb guard refuses images above ``max_pixels`` before decoding them.

Default pixel limit: :data:`DEFAULT_MAX_PIXELS` = 64 megapixels (an 8000 x 8000 image, 192 MB of RGB),
enough for today's 48-50 MP phone photos with margin. The environment variable ``FVW_MAX_IMAGE_PIXELS``
changes the default for a whole process (the apps), ``read_image(..., max_pixels=N)`` for one call.
For huge-but-legal photos pass ``downscale_to``: JPEGs are then decoded at a reduced scale (1/2, 1/4,
1/8) and the limit applies to the pixels actually decoded, so a 200 MP JPEG can still be read cheaply.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, NamedTuple

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageOps, UnidentifiedImageError

from core.errors import FvwError, ImageReadError, ImageTooLargeError, InputError

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "READ_FORMATS",
    "ImageSize",
    "ImageSource",
    "default_max_pixels",
    "image_size",
    "read_image",
    "write_image",
]

DEFAULT_MAX_PIXELS = 64_000_000
READ_FORMATS = ("JPEG", "PNG", "WEBP", "TIFF", "BMP", "GIF", "PPM")
# Only these plugins are tried (MPO opens through JPEG): Pillow's EPS plugin, for one, would run Ghostscript on a user's upload.
_WRITE_FORMATS = {
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".png": "PNG",
    ".webp": "WEBP",
    ".tif": "TIFF",
    ".tiff": "TIFF",
    ".bmp": "BMP",
}
_ENV_LIMIT = "FVW_MAX_IMAGE_PIXELS"
_SWAPS_AXES = {5, 6, 7, 8}  # EXIF orientations that rotate by 90 degrees

ImageSource = str | os.PathLike[str] | bytes | bytearray | BinaryIO


class ImageSize(NamedTuple):
    """Displayed size of an image in pixels (after EXIF orientation)."""

    width: int
    height: int


def default_max_pixels() -> int:
    """The pixel limit used when ``max_pixels`` is not given (``FVW_MAX_IMAGE_PIXELS`` or 64 MP)."""
    raw = os.environ.get(_ENV_LIMIT)
    if raw is None or not raw.strip():
        return DEFAULT_MAX_PIXELS
    try:
        value = int(float(raw))
    except ValueError as e:
        raise InputError(
            f"{_ENV_LIMIT}={raw!r} is not a number of pixels, e.g. 100000000", field=_ENV_LIMIT
        ) from e
    if value <= 0:
        raise InputError(f"{_ENV_LIMIT} must be a positive number of pixels, got {raw!r}", field=_ENV_LIMIT)
    return value


def _label(source: ImageSource) -> str:
    if isinstance(source, str | os.PathLike):
        return os.fspath(source)
    name = getattr(source, "name", None)
    return name if isinstance(name, str) else "<in-memory image>"


@contextlib.contextmanager
def _open(source: ImageSource) -> Iterator[Image.Image]:
    """Open lazily (header only) with typed errors for missing, empty and non-image inputs."""
    label = _label(source)
    fp: str | BinaryIO
    if isinstance(source, bytes | bytearray):
        if not source:
            raise ImageReadError("the uploaded image is empty (0 bytes); upload the photo again", path=label)
        fp = io.BytesIO(bytes(source))
    elif isinstance(source, str | os.PathLike):
        path = Path(source)
        if not path.exists():
            raise ImageReadError("image file not found; check the path or pick the file again", path=label)
        if not path.is_file():
            raise ImageReadError(
                "this path is a folder, not an image file; pick a photo inside it", path=label
            )
        if path.stat().st_size == 0:
            raise ImageReadError(
                "the image file is empty (0 bytes); copy or export the photo again", path=label
            )
        fp = str(path)
    else:
        fp = source
    try:
        with warnings.catch_warnings():
            # Our own limit below replaces Pillow's global warning; its hard error is caught here.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(fp, formats=READ_FORMATS)
    except Image.DecompressionBombError as e:
        raise ImageTooLargeError(
            f"image is far too large to open safely ({e}); resize it below "
            f"{default_max_pixels() / 1e6:.0f} MP before uploading",
            path=label,
        ) from e
    except UnidentifiedImageError as e:
        raise ImageReadError(
            f"not a readable image; supported formats are {', '.join(READ_FORMATS)}. "
            "Export the photo as JPEG or PNG and try again",
            path=label,
        ) from e
    except OSError as e:
        raise ImageReadError(
            f"could not open the image ({e}); check the file and try again", path=label
        ) from e
    try:
        yield img
    finally:
        img.close()


def _oriented_size(img: Image.Image) -> ImageSize:
    width, height = img.size
    try:
        orientation = int(img.getexif().get(0x0112, 1))
    except Exception:  # a broken EXIF block must not make the photo unreadable
        orientation = 1
    return ImageSize(height, width) if orientation in _SWAPS_AXES else ImageSize(width, height)


def image_size(source: ImageSource) -> ImageSize:
    """Size of an image as it is displayed, read from the header without decoding the pixels.

    Args:
        source: A path, the file's bytes, or a binary file object.

    Returns:
        ``ImageSize(width, height)`` in pixels, with width and height swapped when the EXIF orientation
        rotates the photo by 90 degrees (so it matches ``read_image(source).shape[1::-1]``).

    Raises:
        ImageReadError: The file is missing, empty or not a supported image.
    """
    with _open(source) as img:
        return _oriented_size(img)


def _check_limit(img: Image.Image, limit: int | None, label: str, downscale_to: int | None) -> None:
    if limit is None:
        return
    width, height = img.size
    if width * height <= limit:
        return
    hint = "" if downscale_to is not None else ", or pass downscale_to=<longest side> to read a reduced copy"
    raise ImageTooLargeError(
        f"image is {width}x{height} = {width * height:,} pixels, above the limit of {limit:,} pixels "
        f"(a guard against decompression bombs). Resize the photo before uploading; to accept it, "
        f"raise the limit with read_image(..., max_pixels=N) or the {_ENV_LIMIT} environment variable{hint}",
        path=label,
    )


def _to_rgb(img: Image.Image) -> NDArray[np.uint8]:
    """Convert any Pillow mode to (H, W, 3) uint8 RGB."""
    mode = img.mode
    if mode == "RGB":
        return np.asarray(img, dtype=np.uint8).copy()
    if mode == "P" and "transparency" in img.info:
        img, mode = img.convert("RGBA"), "RGBA"
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return np.asarray(Image.alpha_composite(white, rgba).convert("RGB"), dtype=np.uint8).copy()
    if mode.startswith("I;16") or mode in ("I", "F"):
        values = np.asarray(img).astype(np.float64)  # (H, W)
        values = np.nan_to_num(values, nan=0.0, posinf=0.0, neginf=0.0)
        lo, hi = float(values.min()), float(values.max())
        if mode == "F" and lo >= 0.0 and hi <= 1.0:
            scaled = values * 255.0  # float images in [0, 1]
        elif mode != "F" and lo >= 0.0 and hi <= 65535.0:
            scaled = values * (255.0 / 65535.0)  # 16-bit: keep relative brightness
        else:
            span = hi - lo if hi > lo else 1.0
            scaled = (values - lo) * (255.0 / span)  # any other range: stretch to 0..255
        gray = np.clip(np.rint(scaled), 0, 255).astype(np.uint8)
        return np.repeat(gray[:, :, None], 3, axis=2)
    return np.asarray(img.convert("RGB"), dtype=np.uint8).copy()


def read_image(
    source: ImageSource,
    *,
    max_pixels: int | None = None,
    downscale_to: int | None = None,
) -> NDArray[np.uint8]:
    """Decode a photo into an RGB array, upright as a gallery app shows it.

    Args:
        source: A path, the file's bytes, or a binary file object (e.g. a Streamlit upload).
        max_pixels: Refuse images with more pixels than this (checked on the header, before decoding).
            ``None`` uses :func:`default_max_pixels` (64 MP unless ``FVW_MAX_IMAGE_PIXELS`` is set);
            ``0`` disables the guard (trusted files only).
        downscale_to: If given, the longest side of the result is at most this many pixels (aspect ratio
            kept, never upscaled). JPEGs are decoded directly at a reduced scale, and the pixel limit
            then applies to that reduced size.

    Returns:
        Array of shape (H, W, 3), dtype uint8, values 0..255, RGB channel order.

    Raises:
        ImageReadError: Missing, empty, truncated, corrupt or non-image input.
        ImageTooLargeError: The image has more pixels than ``max_pixels``.
        InputError: ``max_pixels`` or ``downscale_to`` is not a positive number.
    """
    if downscale_to is not None and downscale_to < 1:
        raise InputError(
            f"downscale_to must be a positive number of pixels, got {downscale_to}", field="downscale_to"
        )
    if max_pixels is not None and max_pixels < 0:
        raise InputError(
            f"max_pixels must be >= 0 (0 disables the limit), got {max_pixels}", field="max_pixels"
        )
    limit = default_max_pixels() if max_pixels is None else (max_pixels or None)
    label = _label(source)
    with _open(source) as img:
        if downscale_to is not None and img.format in ("JPEG", "MPO"):
            width, height = img.size
            scale = min(1.0, downscale_to / max(width, height))
            # draft() picks the smallest DCT scale (1/1..1/8) still at least this size: a cheap decode.
            img.draft("RGB", (max(1, int(width * scale)), max(1, int(height * scale))))
        _check_limit(img, limit, label, downscale_to)
        try:
            img.load()
        except (OSError, SyntaxError, ValueError) as e:
            raise ImageReadError(
                f"the image data is truncated or corrupt ({e}); the upload or copy was probably "
                "interrupted: copy or export the photo again",
                path=label,
            ) from e
        try:
            upright = ImageOps.exif_transpose(img)
        except Exception:  # a broken EXIF block must not make the photo unreadable
            upright = img
        rgb = _to_rgb(upright if upright is not None else img)
    if downscale_to is not None and max(rgb.shape[:2]) > downscale_to:
        height, width = rgb.shape[:2]
        scale = downscale_to / max(width, height)
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        rgb = np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.LANCZOS), dtype=np.uint8).copy()
    return rgb


def write_image(path: str | os.PathLike[str], rgb: NDArray[np.uint8], *, quality: int = 95) -> Path:
    """Write an RGB (or gray) uint8 image atomically; the format follows the file suffix.

    A failed write leaves any previous file at ``path`` intact: the image is written to a temporary
    file beside the target and then renamed over it.

    Args:
        path: Target file; suffix one of .jpg .jpeg .png .webp .tif .tiff .bmp. Parent folders are created.
        rgb: Array (H, W, 3) RGB or (H, W) gray, dtype uint8.
        quality: JPEG/WebP quality 1..100.

    Returns:
        The path written.

    Raises:
        InputError: Unsupported suffix, or an array of the wrong dtype or shape.
        FvwError: The file could not be written (disk full, permissions).
    """
    target = Path(path)
    fmt = _WRITE_FORMATS.get(target.suffix.lower())
    if fmt is None:
        raise InputError(
            f"cannot tell the image format from suffix {target.suffix!r}; use one of {', '.join(_WRITE_FORMATS)}",
            path=target,
        )
    arr = np.asarray(rgb)
    if arr.dtype != np.uint8:
        raise InputError(
            f"image must be uint8 (0..255), got {arr.dtype}; convert with np.clip(x, 0, 255).astype(np.uint8)",
            path=target,
        )
    if not (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] == 3)) or 0 in arr.shape:
        raise InputError(f"image must have shape (H, W, 3) RGB or (H, W) gray, got {arr.shape}", path=target)
    target.parent.mkdir(parents=True, exist_ok=True)
    options: dict[str, int] = {"quality": quality} if fmt in ("JPEG", "WEBP") else {}
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            Image.fromarray(arr).save(fh, format=fmt, **options)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp_name, target)
    except OSError as e:
        raise FvwError(
            f"could not write the image ({e}); check free disk space and permissions", path=target
        ) from e
    finally:
        # Why: on any failure the temp file must not be left beside the user's images.
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
    return target
