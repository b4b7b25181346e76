"""Structure / texture decomposition of photos: a registry of smoothing methods.

``structure`` is an edge-preserving smooth layer; ``texture = image - structure`` (signed, float).
Methods: ``rtv`` (PyTorch, :mod:`core.texture.rtv`, any device) and OpenCV ``cv2.ximgproc``
``l0`` (l0Smooth), ``rolling`` (rollingGuidanceFilter), ``bilateral_texture`` (bilateralTextureFilter).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from core.errors import ConfigError, InputError
from core.texture.rtv import MIN_SIDE, RTVConfig

__all__ = ["Decomposition", "METHODS", "decompose", "structure_of", "texture_to_uint8", "check_image"]


@dataclass(frozen=True)
class Decomposition:
    """A photo split into layers.

    Attributes:
        image: (H, W, C) float32 in [0, 1], C = 3 (RGB) or 1 (gray).
        structure: Same shape, float32 in about [0, 1].
        texture: ``image - structure``, float32, signed.
        method: Registry name of the method used.
        params: The method's parameters.
    """

    image: NDArray[np.float32]
    structure: NDArray[np.float32]
    texture: NDArray[np.float32]
    method: str
    params: dict[str, Any]


def check_image(image: NDArray[Any]) -> NDArray[np.float32]:
    """Validate an (H, W), (H, W, 1) or (H, W, 3) uint8/float image; return float32 (H, W, C) in [0, 1]."""
    arr = np.asarray(image)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.ndim != 3 or arr.shape[2] not in (1, 3):
        raise InputError(f"expected an (H, W) gray or (H, W, 3) RGB image, got shape {arr.shape}")
    if min(arr.shape[:2]) < MIN_SIDE:
        raise InputError(
            f"image {arr.shape[1]}x{arr.shape[0]} is too small; give at least {MIN_SIDE}x{MIN_SIDE} pixels"
        )
    if arr.dtype == np.uint8:
        return arr.astype(np.float32) / 255.0
    if np.issubdtype(arr.dtype, np.floating):
        if arr.size and (np.nanmin(arr) < 0 or np.nanmax(arr) > 1 or np.isnan(arr).any()):
            raise InputError("a float image must hold values in [0, 1] (no NaN); divide uint8 data by 255")
        return arr.astype(np.float32)
    raise InputError(f"unsupported image dtype {arr.dtype}; use uint8 or float in [0, 1]")


def _rtv(img: NDArray[np.float32], device: str = "auto", **params: Any) -> NDArray[np.float32]:
    import torch

    from core.device import resolve_device
    from core.texture.rtv import rtv_smooth

    cfg = RTVConfig(**params)
    dev = resolve_device(device)
    x = torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))[None].to(dev)  # (1, C, H, W)
    s = rtv_smooth(x, cfg)[0].permute(1, 2, 0).cpu().numpy()
    return s.astype(np.float32)


def _ximgproc() -> Any:
    import cv2

    if not hasattr(cv2, "ximgproc"):
        raise ConfigError(
            "cv2.ximgproc is missing: install opencv-contrib-python-headless (same version as opencv-python-headless)"
        )
    return cv2.ximgproc


def _as_cv(img: NDArray[np.float32]) -> NDArray[np.uint8]:
    return np.ascontiguousarray(np.clip(img * 255.0 + 0.5, 0, 255).astype(np.uint8))


def _from_cv(out: NDArray[Any], like: NDArray[np.float32]) -> NDArray[np.float32]:
    o = out.astype(np.float32)
    if out.dtype == np.uint8:
        o = o / 255.0
    return o.reshape(like.shape)


def _l0(img: NDArray[np.float32], lam: float = 0.02, kappa: float = 2.0) -> NDArray[np.float32]:
    if not (0 < lam <= 1) or kappa <= 1:
        raise ConfigError("l0Smooth needs 0 < lam <= 1 and kappa > 1", field="lam")
    return _from_cv(_ximgproc().l0Smooth(_as_cv(img), None, lam, kappa), img)


def _rolling(
    img: NDArray[np.float32],
    d: int = -1,
    sigma_color: float = 25.0,
    sigma_space: float = 3.0,
    iterations: int = 4,
) -> NDArray[np.float32]:
    if sigma_color <= 0 or sigma_space <= 0 or iterations < 1:
        raise ConfigError("rollingGuidanceFilter needs sigma_color > 0, sigma_space > 0, iterations >= 1")
    out = _ximgproc().rollingGuidanceFilter(_as_cv(img), None, d, sigma_color, sigma_space, iterations)
    return _from_cv(out, img)


def _bilateral_texture(
    img: NDArray[np.float32],
    fr: int = 3,
    iterations: int = 1,
    sigma_alpha: float = -1.0,
    sigma_avg: float = -1.0,
) -> NDArray[np.float32]:
    if fr < 1 or iterations < 1:
        raise ConfigError("bilateralTextureFilter needs fr >= 1 and iterations >= 1", field="fr")
    src = _as_cv(img)
    out = _ximgproc().bilateralTextureFilter(src, None, fr, iterations, sigma_alpha, sigma_avg)
    return _from_cv(out, img)


METHODS: dict[str, Callable[..., NDArray[np.float32]]] = {
    "rtv": _rtv,
    "l0": _l0,
    "rolling": _rolling,
    "bilateral_texture": _bilateral_texture,
}


def structure_of(image: NDArray[Any], method: str = "rtv", **params: Any) -> NDArray[np.float32]:
    """The structure layer of one image.

    Args:
        image: (H, W) or (H, W, 3) uint8, or float in [0, 1].
        method: One of :data:`METHODS`.
        **params: The method's parameters (``rtv``: lam, sigma, sharpness, iterations, device, ...).

    Returns:
        (H, W, C) float32 structure.
    """
    if method not in METHODS:
        raise ConfigError(f"unknown method {method!r}; valid methods: {', '.join(METHODS)}", field="method")
    img = check_image(image)
    try:
        return METHODS[method](img, **params)
    except TypeError as e:  # an unknown keyword for this method
        raise ConfigError(f"bad parameters for method {method!r}: {e}", field="params") from e


def decompose(image: NDArray[Any], method: str = "rtv", **params: Any) -> Decomposition:
    """Split an image into structure and texture (``texture = image - structure``)."""
    img = check_image(image)
    s = structure_of(img, method, **params)
    return Decomposition(image=img, structure=s, texture=img - s, method=method, params=dict(params))


def texture_to_uint8(texture: NDArray[np.floating], gain: float = 2.0) -> NDArray[np.uint8]:
    """Show a signed texture layer as an image: ``0.5 + gain * texture``, clipped to 0..255."""
    return np.clip((0.5 + gain * texture) * 255.0 + 0.5, 0, 255).astype(np.uint8)
