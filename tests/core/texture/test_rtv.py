from __future__ import annotations

import numpy as np
import pytest
import torch

from core.errors import ConfigError, InputError
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
