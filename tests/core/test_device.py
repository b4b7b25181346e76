from __future__ import annotations

import pytest
import torch

from core.device import autocast, module_device, resolve_device
from core.errors import DeviceError


def test_auto_resolves_to_available_device():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected
    assert resolve_device("cpu") == torch.device("cpu")


def test_unknown_device_lists_valid_names():
    with pytest.raises(DeviceError, match="auto, cpu, cuda"):
        resolve_device("tpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only error path")
def test_cuda_without_gpu_says_what_to_do():
    with pytest.raises(DeviceError, match="--device cpu"):
        resolve_device("cuda")


def test_autocast_is_noop_on_cpu():
    lin = torch.nn.Linear(3, 2)
    with autocast(torch.device("cpu")):
        y = lin(torch.ones(1, 3))
    assert y.dtype == torch.float32
    assert module_device(lin) == torch.device("cpu")
    assert module_device(torch.nn.ReLU()) == torch.device("cpu")


def test_inference_layout_keeps_the_outputs_and_the_parameters_in_eval_mode():
    from core.device import inference_layout

    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3, padding=1),
        torch.nn.BatchNorm2d(8),
        torch.nn.ReLU(),
        torch.nn.Conv2d(8, 2, 1),
    )
    net[1].running_mean.uniform_(-1, 1)  # non-trivial statistics, so train vs eval mode would differ
    x = torch.randn(2, 3, 17, 23)
    before = net.eval()(x).detach()
    net.train()
    params = [id(p) for p in net.parameters()]
    out = inference_layout(net)
    assert out is net and not net.training
    assert [id(p) for p in net.parameters()] == params  # an optimizer holding them is unaffected
    assert net[0].weight.is_contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        torch.testing.assert_close(net(x), before, rtol=1e-4, atol=1e-5)
