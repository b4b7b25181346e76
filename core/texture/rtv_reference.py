"""A direct sparse reference of RTV (numpy + scipy) used to check the PyTorch PCG version.

Independent of :mod:`core.texture.rtv`: weights via ``scipy.ndimage`` and the linear system assembled
as an explicit sparse matrix and solved with ``scipy.sparse.linalg.spsolve`` (float64). Only for small
images (the direct solve is O(N^1.5) memory).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from scipy.ndimage import gaussian_filter1d
from scipy.sparse.linalg import spsolve

from core.texture.rtv import RTVConfig, gaussian_radius

__all__ = ["rtv_reference"]


def _weights(x: NDArray[np.float64], sigma: float, sharpness: float) -> tuple[NDArray, NDArray]:
    # x: (C, H, W)
    c = x.shape[0]
    fx = np.zeros_like(x)
    fy = np.zeros_like(x)
    fx[:, :, :-1] = np.diff(x, axis=2)
    fy[:, :-1, :] = np.diff(x, axis=1)
    wto = 1.0 / np.maximum(np.sqrt(fx**2 + fy**2).sum(0) / c, sharpness)
    r = gaussian_radius(sigma)
    g = gaussian_filter1d(x, sigma, axis=2, mode="nearest", radius=r)
    g = gaussian_filter1d(g, sigma, axis=1, mode="nearest", radius=r)
    gx = np.zeros_like(g)
    gy = np.zeros_like(g)
    gx[:, :, :-1] = np.diff(g, axis=2)
    gy[:, :-1, :] = np.diff(g, axis=1)
    wx = wto / np.maximum(np.abs(gx).sum(0) / c, 1e-3)
    wy = wto / np.maximum(np.abs(gy).sum(0) / c, 1e-3)
    wx[:, -1] = 0
    wy[-1, :] = 0
    return wx, wy


def _matrix(wx: NDArray, wy: NDArray) -> sp.csr_matrix:
    h, w = wx.shape
    n = h * w
    idx = np.arange(n).reshape(h, w)
    rows, cols, vals = [], [], []
    for weights, a, b in ((wx[:, :-1], idx[:, :-1], idx[:, 1:]), (wy[:-1, :], idx[:-1, :], idx[1:, :])):
        wv, av, bv = weights.ravel(), a.ravel(), b.ravel()
        rows += [av, bv, av, bv]
        cols += [bv, av, av, bv]
        vals += [-wv, -wv, wv, wv]
    lap = sp.coo_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n))
    return (sp.identity(n) + lap).tocsr()


def rtv_reference(image: NDArray[np.floating], config: RTVConfig | None = None) -> NDArray[np.float64]:
    """RTV structure of one image by direct sparse solves.

    Args:
        image: (C, H, W) float in [0, 1].
        config: The same parameters as :func:`core.texture.rtv.rtv_smooth` (CG settings ignored).

    Returns:
        (C, H, W) float64 structure.
    """
    cfg = (config or RTVConfig()).validate()
    img = np.asarray(image, dtype=np.float64)
    lam = cfg.lam / 2.0
    x = img.copy()
    sigma = cfg.sigma
    for _ in range(int(cfg.iterations)):
        wx, wy = _weights(x, sigma, cfg.sharpness)
        a = _matrix(lam * wx, lam * wy)
        x = np.stack([spsolve(a, ch.ravel()).reshape(ch.shape) for ch in img])
        sigma = max(sigma / 2.0, 0.5)
    return x
