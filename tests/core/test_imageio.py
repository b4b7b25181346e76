from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.errors import FvwError, ImageReadError, ImageTooLargeError, InputError
from core.imageio import (
    DEFAULT_MAX_PIXELS,
    ImageSize,
    default_max_pixels,
    image_size,
    read_image,
    write_image,
)


def _noise(h: int, w: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(h, w, 3), dtype=np.uint8)


def _jpeg_bytes(h: int = 64, w: int = 64) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(_noise(h, w)).save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def test_jpeg_round_trip_is_rgb_uint8(tmp_path: Path):
    rgb = np.zeros((30, 40, 3), np.uint8)
    rgb[:, :20] = (200, 30, 30)
    rgb[:, 20:] = (20, 40, 220)
    path = write_image(tmp_path / "a.jpg", rgb)
    out = read_image(path)
    assert out.shape == (30, 40, 3) and out.dtype == np.uint8
    assert np.abs(out.astype(int)[5:25, 2:15] - (200, 30, 30)).max() < 12  # red stays red (RGB order)
    assert np.abs(out.astype(int)[5:25, 25:38] - (20, 40, 220)).max() < 12


@pytest.mark.parametrize("suffix", [".png", ".webp", ".tif", ".bmp"])
def test_lossless_formats_round_trip_exactly(tmp_path: Path, suffix: str):
    rgb = _noise(17, 23)
    path = tmp_path / f"x{suffix}"
    if suffix == ".webp":
        Image.fromarray(rgb).save(path, lossless=True)
    else:
        write_image(path, rgb)
    np.testing.assert_array_equal(read_image(path), rgb)


def test_bytes_and_file_object_sources():
    data = _jpeg_bytes(20, 30)
    assert read_image(data).shape == (20, 30, 3)
    assert read_image(io.BytesIO(data)).shape == (20, 30, 3)
    assert image_size(data) == ImageSize(30, 20)


def test_exif_orientation_6_rotates_clockwise(tmp_path: Path):
    stored = np.full((20, 40, 3), 255, np.uint8)  # stored H=20, W=40, white
    stored[:8, :8] = (255, 0, 0)  # red block at the stored top-left
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    path = tmp_path / "rot.jpg"
    Image.fromarray(stored).save(path, quality=95, exif=exif.tobytes())
    out = read_image(path)
    assert out.shape == (40, 20, 3)  # displayed portrait
    assert image_size(path) == ImageSize(width=20, height=40)
    # after a clockwise quarter turn the stored top-left lands at the displayed top-right
    top_right, top_left = out[1:7, -7:-1].mean(axis=(0, 1)), out[1:7, 1:7].mean(axis=(0, 1))
    assert top_right[0] > 200 and top_right[1] < 60 and top_right[2] < 60
    assert top_left.min() > 200  # white


def test_rgba_is_composited_on_white(tmp_path: Path):
    rgba = np.zeros((2, 3, 4), np.uint8)
    rgba[0, 0] = (255, 0, 0, 0)  # fully transparent red -> white
    rgba[0, 1] = (0, 0, 255, 255)  # opaque blue
    rgba[0, 2] = (0, 0, 0, 128)  # half-transparent black -> mid gray
    Image.fromarray(rgba, mode="RGBA").save(tmp_path / "a.png")
    out = read_image(tmp_path / "a.png").astype(int)
    assert out[0, 0].tolist() == [255, 255, 255]
    assert out[0, 1].tolist() == [0, 0, 255]
    assert all(abs(v - 127) <= 1 for v in out[0, 2])


def test_gray_gray_alpha_and_palette(tmp_path: Path):
    Image.fromarray(np.array([[0, 100, 255]], np.uint8), mode="L").save(tmp_path / "g.png")
    assert read_image(tmp_path / "g.png")[0].tolist() == [[0, 0, 0], [100, 100, 100], [255, 255, 255]]

    la = Image.new("LA", (2, 1))
    la.putpixel((0, 0), (50, 255))
    la.putpixel((1, 0), (50, 0))
    la.save(tmp_path / "la.png")
    assert read_image(tmp_path / "la.png")[0].tolist() == [[50, 50, 50], [255, 255, 255]]

    pal = Image.new("P", (2, 1))
    pal.putpalette([10, 20, 30, 0, 0, 0] + [0] * 762)
    pal.putpixel((0, 0), 0)
    pal.putpixel((1, 0), 1)
    pal.save(tmp_path / "p.png", transparency=1)
    assert read_image(tmp_path / "p.png")[0].tolist() == [[10, 20, 30], [255, 255, 255]]


def test_16bit_gray_png_is_scaled_not_clipped(tmp_path: Path):
    values = np.array([[0, 257 * 128, 65535, 1000]], np.uint16)
    Image.fromarray(values).save(tmp_path / "d.png")
    with Image.open(tmp_path / "d.png") as im:
        assert im.mode.startswith("I")  # really stored and read back as 16-bit
    out = read_image(tmp_path / "d.png")
    assert out[0, :, 0].tolist() == [0, 128, 255, 4]  # clipping would give [0, 255, 255, 255]
    assert (out[..., 0] == out[..., 2]).all()


def test_16bit_rgb_png_is_scaled(tmp_path: Path):
    cv2 = pytest.importorskip("cv2")
    bgr = np.zeros((1, 2, 3), np.uint16)
    bgr[0, 0] = (0, 0, 65535)  # red in BGR order
    bgr[0, 1] = (257 * 64, 257 * 64, 257 * 64)
    assert cv2.imwrite(str(tmp_path / "c16.png"), bgr)
    out = read_image(tmp_path / "c16.png")
    assert out[0].tolist() == [[255, 0, 0], [64, 64, 64]]


def test_float_tiff(tmp_path: Path):
    Image.fromarray(np.array([[0.0, 0.5, 1.0]], np.float32), mode="F").save(tmp_path / "f.tif")
    assert read_image(tmp_path / "f.tif")[0, :, 0].tolist() == [0, 128, 255]
    Image.fromarray(np.array([[-1.0, 1.0, 3.0]], np.float32), mode="F").save(tmp_path / "g.tif")
    assert read_image(tmp_path / "g.tif")[0, :, 0].tolist() == [0, 128, 255]  # other ranges stretched


def test_truncated_jpeg_names_file_and_fix(tmp_path: Path):
    data = _jpeg_bytes(64, 64)
    path = tmp_path / "cut.jpg"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageReadError, match="truncated or corrupt") as info:
        read_image(path)
    assert info.value.path == str(path) and "again" in str(info.value)
    with pytest.raises(ImageReadError, match="truncated"):
        read_image(data[: len(data) // 2])


def test_text_file_named_jpg_is_refused(tmp_path: Path):
    path = tmp_path / "notes.jpg"
    path.write_text("this is not a photo\n")
    with pytest.raises(ImageReadError, match="not a readable image.*JPEG") as info:
        read_image(path)
    assert "notes.jpg" in str(info.value)
    with pytest.raises(ImageReadError, match="not a readable image"):
        image_size(path)


def test_missing_empty_and_folder(tmp_path: Path):
    with pytest.raises(ImageReadError, match="not found"):
        read_image(tmp_path / "nope.jpg")
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(ImageReadError, match="empty"):
        read_image(tmp_path / "empty.png")
    with pytest.raises(ImageReadError, match="empty"):
        read_image(b"")
    with pytest.raises(ImageReadError, match="folder"):
        read_image(tmp_path)


def test_too_large_says_limit_and_how_to_raise_it(tmp_path: Path):
    write_image(tmp_path / "big.png", np.zeros((100, 120, 3), np.uint8))
    with pytest.raises(ImageTooLargeError) as info:
        read_image(tmp_path / "big.png", max_pixels=5_000)
    msg = str(info.value)
    assert "120x100 = 12,000 pixels" in msg and "5,000" in msg
    assert "max_pixels" in msg and "FVW_MAX_IMAGE_PIXELS" in msg and "downscale_to" in msg
    assert read_image(tmp_path / "big.png", max_pixels=12_000).shape == (100, 120, 3)  # limit inclusive
    assert read_image(tmp_path / "big.png", max_pixels=0).shape == (100, 120, 3)  # 0 disables


def test_limit_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    assert default_max_pixels() == DEFAULT_MAX_PIXELS or os.environ.get("FVW_MAX_IMAGE_PIXELS")
    write_image(tmp_path / "big.png", np.zeros((100, 120, 3), np.uint8))
    monkeypatch.setenv("FVW_MAX_IMAGE_PIXELS", "5000")
    with pytest.raises(ImageTooLargeError):
        read_image(tmp_path / "big.png")
    monkeypatch.setenv("FVW_MAX_IMAGE_PIXELS", "lots")
    with pytest.raises(InputError, match="FVW_MAX_IMAGE_PIXELS"):
        read_image(tmp_path / "big.png")


def test_downscale_to_decodes_large_jpeg_at_reduced_scale(tmp_path: Path):
    path = tmp_path / "big.jpg"
    path.write_bytes(_jpeg_bytes(600, 800))
    with pytest.raises(ImageTooLargeError):
        read_image(path, max_pixels=100_000)
    small = read_image(path, max_pixels=100_000, downscale_to=200)  # JPEG draft decodes 200x150
    assert small.shape == (150, 200, 3)
    assert read_image(path, downscale_to=5000).shape == (600, 800, 3)  # never upscaled
    write_image(tmp_path / "big.png", _noise(60, 90))
    assert read_image(tmp_path / "big.png", downscale_to=30).shape == (20, 30, 3)
    with pytest.raises(InputError, match="downscale_to"):
        read_image(path, downscale_to=0)


def test_write_image_validates_input(tmp_path: Path):
    with pytest.raises(InputError, match="suffix"):
        write_image(tmp_path / "a.gif2", np.zeros((2, 2, 3), np.uint8))
    with pytest.raises(InputError, match="uint8"):
        write_image(tmp_path / "a.png", np.zeros((2, 2, 3), np.float32))
    with pytest.raises(InputError, match="shape"):
        write_image(tmp_path / "a.png", np.zeros((2, 2, 4), np.uint8))
    gray = np.array([[0, 255]], np.uint8)
    assert read_image(write_image(tmp_path / "sub" / "g.png", gray)).tolist() == [[[0] * 3, [255] * 3]]


def test_write_image_failure_keeps_previous_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    target = tmp_path / "keep.png"
    write_image(target, np.full((4, 4, 3), 7, np.uint8))
    before = target.read_bytes()

    def broken_save(self: Image.Image, fp: object, *args: object, **kwargs: object) -> None:
        fp.write(b"\x89PNG partial")  # type: ignore[attr-defined]
        raise OSError("No space left on device")

    monkeypatch.setattr(Image.Image, "save", broken_save)
    with pytest.raises(FvwError, match="disk space"):
        write_image(target, np.zeros((4, 4, 3), np.uint8))
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.png"]  # no temp file left behind
