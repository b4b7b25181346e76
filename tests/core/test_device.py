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
