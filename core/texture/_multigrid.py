"""Aggregation multigrid V-cycle for the RTV system ``(M + L_w) x = r``, as a CG preconditioner.

The fine operator is ``I + L_w`` with ``L_w`` the 5-point weighted graph Laplacian (horizontal weights
``ax`` between (i, j) and (i, j+1), vertical ``ay`` between (i, j) and (i+1, j)). Coarse levels are the
Galerkin products ``P^T A P`` with ``P`` the piecewise-constant prolongation of 2x2 blocks: the result is
again a 5-point operator, with a mass term ``M`` (pixels per block) instead of ``I`` and coarse weights
equal to the sum of the fine weights crossing between two blocks. A weak edge (small weight: an image
edge) therefore stays weak on every level, which keeps the coarse correction edge-aware; internal edges
of a block drop out. Because the mass grows 4x per level and the weights only about 2x, coarse levels
quickly become diagonally dominant and a few Jacobi sweeps solve the coarsest one.

The smoother is weighted Jacobi with the same number of sweeps before and after the coarse correction,
so the V-cycle is a symmetric positive definite operator (required by CG). Plain tensor ops only: it
runs batched over (B, C) on any device.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

__all__ = ["Level", "build_hierarchy", "vcycle", "residual", "batched_dot"]

OMEGA = 0.8  # Jacobi damping; 1.0 roughly triples the CG iterations on photos (measured)
COARSEST_SIDE = 16  # stop coarsening once a side would drop below this
COARSE_SWEEPS = 8  # Jacobi sweeps on the coarsest level
MAX_LEVELS = 12


@dataclass(frozen=True)
class Level:
    """One grid of the hierarchy.

    Attributes:
        d: Diagonal of the operator, (B, 1, H, W).
        winvd: ``OMEGA / d``, the damped Jacobi factor, (B, 1, H, W).
        axc: Horizontal weights without the last column, (B, 1, H, W-1).
        ayc: Vertical weights without the last row, (B, 1, H-1, W).
        mass: Pixels per cell, (B, 1, H, W); None on the fine level (all ones).
    """

    d: torch.Tensor
    winvd: torch.Tensor
    axc: torch.Tensor
    ayc: torch.Tensor
    mass: torch.Tensor | None

    @property
    def shape(self) -> tuple[int, int]:
        """(H, W) of this grid."""
        return int(self.d.shape[-2]), int(self.d.shape[-1])


def batched_dot(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per-(batch, channel) inner product of two (B, C, H, W) tensors -> (B, C, 1, 1), without a temporary."""
    n, c, h, w = a.shape
    out = torch.bmm(a.reshape(n * c, 1, h * w), b.reshape(n * c, h * w, 1))
    return out.view(n, c, 1, 1)


def _make_level(mass: torch.Tensor | None, ax: torch.Tensor, ay: torch.Tensor) -> Level:
    d = (1.0 if mass is None else mass) + ax + ay  # mass + edges leaving right / down
    d[..., :, 1:] += ax[..., :, :-1]  # edge arriving from the left
    d[..., 1:, :] += ay[..., :-1, :]  # edge arriving from above
    return Level(
        d=d,
        winvd=OMEGA / d,
        axc=ax[..., :, :-1].contiguous(),
        ayc=ay[..., :-1, :].contiguous(),
        mass=mass,
    )


def _pad_even(t: torch.Tensor) -> torch.Tensor:
    h, w = t.shape[-2:]
    return F.pad(t, (0, w % 2, 0, h % 2)) if (h % 2 or w % 2) else t


def _restrict(t: torch.Tensor) -> torch.Tensor:
    """``P^T t``: 2x2 block sums (odd sides padded with zeros). (B, C, H, W) -> (B, C, ceil(H/2), ceil(W/2))."""
    t = _pad_even(t)
    n, c, h, w = t.shape
    return t.reshape(n, c, h // 2, 2, w // 2, 2).sum((3, 5))


def _prolong(xc: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    """``P xc``: copy each coarse value to its 2x2 block, cropped to the fine ``shape``."""
    x = F.interpolate(xc, scale_factor=2.0, mode="nearest")
    return x[..., : shape[0], : shape[1]]


def _coarsen(ax: torch.Tensor, ay: torch.Tensor, mass: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Galerkin coarse weights and mass of 2x2 aggregation (see the module docstring)."""
    axp, ayp = _pad_even(ax), _pad_even(ay)
    cx = axp[..., :, 1::2]  # edges from block column J to J+1 (fine columns 2J+1 -> 2J+2)
    cax = cx[..., 0::2, :] + cx[..., 1::2, :]
    cy = ayp[..., 1::2, :]  # edges from block row I to I+1
    cay = cy[..., :, 0::2] + cy[..., :, 1::2]
    cax[..., :, -1] = 0  # no edge leaves the grid (the padded column holds no pixel)
    cay[..., -1, :] = 0
    return cax, cay, _restrict(mass)


def build_hierarchy(ax: torch.Tensor, ay: torch.Tensor, max_levels: int = MAX_LEVELS) -> list[Level]:
    """The levels of the V-cycle for the fine operator ``I + L(ax, ay)``.

    Args:
        ax, ay: Fine edge weights (lambda folded in), (B, 1, H, W); ``ax[..., -1] == 0`` and
            ``ay[..., -1, :] == 0``.
        max_levels: Level cap (1: the fine level only, e.g. for a Jacobi preconditioner).

    Returns:
        Levels from fine to coarse; a single level when the image is too small to coarsen.
    """
    levels = [_make_level(None, ax, ay)]
    mass = torch.ones_like(ax)
    while min(levels[-1].shape) >= 2 * COARSEST_SIDE and len(levels) < max_levels:
        ax, ay, mass = _coarsen(ax, ay, mass)
        levels.append(_make_level(mass, ax, ay))
    return levels


def residual(lv: Level, b: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``b - A x`` on level ``lv`` (5 passes over the data). b, x: (B, C, H, W)."""
    r = torch.addcmul(b, lv.d, x, value=-1.0)
    r[..., :, :-1].addcmul_(lv.axc, x[..., :, 1:])
    r[..., :, 1:].addcmul_(lv.axc, x[..., :, :-1])
    r[..., :-1, :].addcmul_(lv.ayc, x[..., 1:, :])
    r[..., 1:, :].addcmul_(lv.ayc, x[..., :-1, :])
    return r


def vcycle(levels: list[Level], r: torch.Tensor, sweeps: int = 2, k: int = 0) -> torch.Tensor:
    """Apply the V-cycle preconditioner to ``r`` (zero initial guess).

    Args:
        levels: From :func:`build_hierarchy`.
        r: Residual on level ``k``, (B, C, H, W).
        sweeps: Jacobi sweeps before and after each coarse correction (same count: symmetric cycle).
        k: Current level (recursion).

    Returns:
        ``z ~ A^-1 r``, same shape as ``r``.
    """
    lv = levels[k]
    x = lv.winvd * r  # first sweep from zero
    last = k == len(levels) - 1
    for _ in range((COARSE_SWEEPS if last else sweeps) - 1):
        x.addcmul_(lv.winvd, residual(lv, r, x))
    if last:
        return x
    xc = vcycle(levels, _restrict(residual(lv, r, x)), sweeps, k + 1)
    x.add_(_prolong(xc, lv.shape))
    for _ in range(sweeps):
        x.addcmul_(lv.winvd, residual(lv, r, x))
    return x
