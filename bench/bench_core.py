"""core I/O speed: decoding a 1280x960 phone-sized JPEG, saving and loading a ResNet-18 checkpoint."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from bench.harness import register_timing

_TMP: list[Path] = []


def _tmp_dir() -> Path:
    if not _TMP:
        path = Path(tempfile.mkdtemp(prefix="fvw-bench-core-"))
        atexit.register(shutil.rmtree, path, ignore_errors=True)
        _TMP.append(path)
    return _TMP[0]


def _photo_jpeg() -> Path:
    """A 1280x960 JPEG with photo-like content (smooth shading plus sensor noise), quality 90."""
    path = _tmp_dir() / "photo_1280x960.jpg"
    if not path.exists():
        import numpy as np
        from PIL import Image

        rng = np.random.default_rng(0)
        yy, xx = np.mgrid[0:960, 0:1280].astype(np.float32)
        base = np.stack([xx / 1280 * 200, yy / 960 * 180, (xx + yy) / 2240 * 160], axis=2)  # (H, W, 3)
        noisy = base + rng.normal(0, 12, base.shape)
        Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8)).save(path, quality=90)
    return path


def _pillow_reference() -> Callable[[], object]:
    import numpy as np
    from PIL import Image

    path = _photo_jpeg()

    def decode() -> object:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"))

    return decode


def _read(downscale_to: int | None) -> Callable[[], Callable[[], object]]:
    def setup() -> Callable[[], object]:
        from core.imageio import read_image

        path = _photo_jpeg()
        return lambda: read_image(path, downscale_to=downscale_to)

    return setup


def _resnet18():  # type: ignore[no-untyped-def]
    import torch
    from torchvision.models import resnet18

    torch.manual_seed(0)
    return resnet18(num_classes=1000)  # random init: 11.7 M parameters, 46.8 MB of float32


def _save(suffix: str) -> Callable[[], Callable[[], object]]:
    def setup() -> Callable[[], object]:
        from core.checkpoints import save_checkpoint

        model, path = _resnet18(), _tmp_dir() / f"save_resnet18{suffix}"
        return lambda: save_checkpoint(path, model, arch={"num_classes": 1000})

    return setup


def _load(suffix: str) -> Callable[[], Callable[[], object]]:
    def setup() -> Callable[[], object]:
        from core.checkpoints import load_checkpoint, save_checkpoint

        path = save_checkpoint(_tmp_dir() / f"load_resnet18{suffix}", _resnet18(), arch={"num_classes": 1000})
        return lambda: load_checkpoint(path)

    return setup


register_timing(
    group="imageio", name="Pillow open+convert (reference)", setup=_pillow_reference, unit="photo"
)
register_timing(
    group="imageio",
    name="read_image 1280x960 JPEG",
    setup=_read(None),
    unit="photo",
    repeats=10,
    baseline="Pillow open+convert (reference)",
)
register_timing(
    group="imageio",
    name="read_image downscale_to=640",
    setup=_read(640),
    unit="photo",
    repeats=10,
    baseline="read_image 1280x960 JPEG",
)
register_timing(
    group="checkpoints", name="save resnet18 .safetensors", setup=_save(".safetensors"), unit="file"
)
register_timing(
    group="checkpoints",
    name="save resnet18 .pt",
    setup=_save(".pt"),
    unit="file",
    baseline="save resnet18 .safetensors",
)
register_timing(
    group="checkpoints", name="load resnet18 .safetensors", setup=_load(".safetensors"), unit="file"
)
register_timing(
    group="checkpoints",
    name="load resnet18 .pt",
    setup=_load(".pt"),
    unit="file",
    baseline="load resnet18 .safetensors",
)
