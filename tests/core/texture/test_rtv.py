from __future__ import annotations

import numpy as np
import pytest
import torch

from core.errors import ConfigError, InputError
from core.texture._multigrid import build_hierarchy, residual, vcycle
from core.texture.rtv import RTVConfig, apply_system, pcg_solve, rtv_smooth, rtv_weights
from core.texture.rtv_reference import rtv_reference


def _blocky(b: int, c: int, n: int = 24, seed: int = 0) -> torch.Tensor:
    """Two flat regions (structure) plus a fine checker pattern and noise (texture)."""
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.arange(n), torch.arange(n), indexing="ij")
    base = (xx > n // 2).float() * 0.5 + 0.2
    checker = ((xx + yy) % 4 < 2).float() * 0.15
    return (base + checker + 0.05 * torch.rand(b, c, n, n, generator=g)).clamp(0, 1)


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("params", [{}, {"lam": 0.03, "sigma": 2.0, "iterations": 3}])
def test_torch_pcg_matches_direct_sparse_solve(channels, params):
    img = _blocky(2, channels)
    cfg = RTVConfig(**params, cg_tol=1e-6, cg_max_iter=2000)
    got = rtv_smooth(img, cfg).numpy()
    want = np.stack([rtv_reference(im.numpy(), cfg) for im in img])
    assert np.abs(got - want).mean() <= 1e-3
    # and the smoothing did something: the structure differs from the input
    assert np.abs(want - img.numpy()).mean() > 0.02


def test_default_tolerance_is_still_close_to_the_reference():
    img = _blocky(1, 3, seed=1)
    got = rtv_smooth(img).numpy()[0]
    want = rtv_reference(img[0].numpy())
    assert np.abs(got - want).mean() <= 1e-3


def test_structure_removes_the_fine_pattern_and_keeps_the_step():
    img = _blocky(1, 1)
    s = rtv_smooth(img, RTVConfig(lam=0.02))[0, 0]
    left, right = s[:, 2:10], s[:, 15:22]
    assert float(left.std()) < 0.5 * float(img[0, 0, :, 2:10].std())  # checker flattened
    assert float(right.mean() - left.mean()) > 0.35  # the edge survives


def test_system_is_symmetric_and_weights_stay_inside():
    x = torch.rand(1, 2, 10, 12, dtype=torch.float64)
    wx, wy = rtv_weights(x, 2.0, 0.02)
    assert (wx[..., -1] == 0).all() and (wy[..., -1, :] == 0).all() and (wx >= 0).all()
    a, b = torch.rand_like(x), torch.rand_like(x)
    lhs = (apply_system(a, 0.01 * wx, 0.01 * wy) * b).sum()
    rhs = (a * apply_system(b, 0.01 * wx, 0.01 * wy)).sum()
    assert torch.isclose(lhs, rhs, rtol=1e-10)
    sol, n = pcg_solve(b, 0.01 * wx, 0.01 * wy, tol=1e-10, max_iter=1000)
    assert torch.allclose(apply_system(sol, 0.01 * wx, 0.01 * wy), b, atol=1e-8)
    assert n >= 1


def test_constant_image_is_its_own_structure():
    img = torch.full((1, 3, 16, 16), 0.4)
    assert torch.allclose(rtv_smooth(img), img, atol=1e-5)


def test_bad_inputs_raise_typed_errors():
    with pytest.raises(InputError, match="too small"):
        rtv_smooth(torch.rand(1, 3, 4, 30))
    with pytest.raises(InputError, match="float"):
        rtv_smooth(torch.zeros(1, 3, 16, 16, dtype=torch.uint8))
    with pytest.raises(InputError, match="channels"):
        rtv_smooth(torch.rand(1, 4, 16, 16))
    for bad in (0.0, -0.01, 2.0, float("nan")):
        with pytest.raises(ConfigError, match="lambda"):
            rtv_smooth(torch.rand(1, 1, 16, 16), RTVConfig(lam=bad))
    with pytest.raises(ConfigError, match="sigma"):
        RTVConfig(sigma=0).validate()
    with pytest.raises(ConfigError, match="iterations"):
        RTVConfig(iterations=0).validate()


def test_gray_2d_input_is_accepted():
    out = rtv_smooth(torch.rand(16, 16))
    assert out.shape == (1, 1, 16, 16)


@pytest.mark.gpu
def test_cuda_matches_cpu():
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    img = _blocky(2, 3)
    cpu = rtv_smooth(img, RTVConfig(cg_tol=1e-6, cg_max_iter=2000))
    gpu = rtv_smooth(img.cuda(), RTVConfig(cg_tol=1e-6, cg_max_iter=2000)).cpu()
    assert (cpu - gpu).abs().mean() <= 1e-4


def _strong_weights(h: int, w: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """RTV-like weights of a textured image: large in flat areas, small across edges (lambda folded in)."""
    g = torch.Generator().manual_seed(seed)
    img = (torch.rand(1, 1, h // 8 + 1, w // 8 + 1, generator=g) > 0.5).float()
    img = torch.nn.functional.interpolate(img, scale_factor=8.0)[..., :h, :w].contiguous()
    img = img + 0.02 * torch.rand(1, 1, h, w, generator=g)
    wx, wy = rtv_weights(img.double(), 3.0, 0.02)
    return 0.005 * wx, 0.005 * wy


def test_coarse_levels_are_galerkin_products():
    # A_c = P^T A P with P the 2x2 piecewise-constant prolongation, on an odd-sized grid.
    ax, ay = _strong_weights(67, 45)
    levels = build_hierarchy(ax, ay)
    assert len(levels) >= 2 and levels[1].shape == (34, 23)
    xc = torch.rand(1, 2, 34, 23, dtype=torch.float64)
    zero = torch.zeros_like(xc)
    coarse = -residual(levels[1], zero, xc)  # A_c xc
    fine_x = xc.repeat_interleave(2, -1).repeat_interleave(2, -2)[..., :67, :45]
    afx = apply_system(fine_x, ax, ay)
    galerkin = torch.nn.functional.pad(afx, (0, 1, 0, 1)).reshape(1, 2, 34, 2, 23, 2).sum((3, 5))
    assert torch.allclose(coarse, galerkin, rtol=1e-10, atol=1e-9)


def test_vcycle_is_symmetric_positive_definite():
    ax, ay = _strong_weights(70, 65, seed=2)
    levels = build_hierarchy(ax, ay)
    assert len(levels) == 3
    a, b = torch.rand(2, 1, 1, 70, 65, dtype=torch.float64)
    assert torch.isclose((vcycle(levels, a) * b).sum(), (a * vcycle(levels, b)).sum(), rtol=1e-9)
    for v in (a, b, torch.randn_like(a)):
        assert float((vcycle(levels, v) * v).sum()) > 0


def test_multigrid_solves_the_system_in_far_fewer_iterations_than_jacobi():
    ax, ay = _strong_weights(64, 72, seed=3)
    b = torch.rand(1, 2, 64, 72, dtype=torch.float64)
    x_mg, n_mg = pcg_solve(b, ax, ay, tol=1e-6, max_iter=1000, preconditioner="multigrid")
    x_j, n_j = pcg_solve(b, ax, ay, tol=1e-6, max_iter=1000, preconditioner="jacobi")
    for x in (x_mg, x_j):
        res = (apply_system(x, ax, ay) - b).pow(2).sum((-2, -1)).sqrt() / b.pow(2).sum((-2, -1)).sqrt()
        assert (res <= 1e-6).all()
    assert n_mg * 3 < n_j
    assert pcg_solve(b, ax, ay, x0=x_mg, tol=1e-6)[1] == 0  # a solved warm start costs nothing


def test_odd_sized_multilevel_image_matches_direct_sparse_solve():
    img = _blocky(1, 3, n=80, seed=4)[..., :67, :75].contiguous()  # 3 levels, odd sides
    got = rtv_smooth(img).numpy()[0]
    want = rtv_reference(img[0].numpy())
    assert np.abs(got - want).mean() <= 1e-3


def test_jacobi_preconditioner_and_tight_early_tolerance_agree_with_the_default():
    img = _blocky(1, 3, n=32, seed=5)
    fast = rtv_smooth(img)
    slow = rtv_smooth(img, RTVConfig(preconditioner="jacobi", cg_tol_early=1e-3))
    assert (fast - slow).abs().mean() <= 1e-3


def test_bad_solver_settings_raise_config_errors():
    with pytest.raises(ConfigError, match="cg_tol_early"):
        RTVConfig(cg_tol_early=0.0).validate()
    with pytest.raises(ConfigError, match="preconditioner"):
        RTVConfig(preconditioner="ilu").validate()  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="preconditioner"):
        pcg_solve(
            torch.rand(1, 1, 8, 8), torch.zeros(1, 1, 8, 8), torch.zeros(1, 1, 8, 8), preconditioner="x"
        )  # type: ignore[arg-type]
