"""Resolve the compute device once and pass it on; autocast only on CUDA."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Literal, TypeVar

import torch

from core.errors import DeviceError

__all__ = ["DeviceName", "resolve_device", "autocast", "module_device", "inference_layout"]

DeviceName = Literal["auto", "cpu", "cuda"]
_VALID = ("auto", "cpu", "cuda")
M = TypeVar("M", bound=torch.nn.Module)


def resolve_device(name: str = "auto") -> torch.device:
    """Turn ``auto|cpu|cuda[:N]`` into a :class:`torch.device`.

    ``auto`` picks CUDA when available, else CPU. Asking for CUDA on a machine without it raises
    :class:`DeviceError` with the fix rather than failing later inside a kernel.
    """
    base = name.split(":", 1)[0] if isinstance(name, str) else ""
    if base not in _VALID:
        raise DeviceError(f"unknown device {name!r}; use one of {', '.join(_VALID)} (or cuda:N)")
    if base == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if base == "cuda" and not torch.cuda.is_available():
        raise DeviceError(
            f"device {name!r} was requested but no CUDA GPU is available; use --device cpu or auto"
        )
    return torch.device(name)


@contextlib.contextmanager
def autocast(device: torch.device, enabled: bool = True) -> Iterator[None]:
    """Mixed precision on CUDA (fp16), a no-op on CPU (no bf16 on our CPUs)."""
    if enabled and device.type == "cuda":
        with torch.autocast(device_type="cuda", dtype=torch.float16):
            yield
    else:
        yield


def module_device(module: torch.nn.Module) -> torch.device:
    """The device of a module's first parameter (CPU for a module without parameters)."""
    for p in module.parameters():
        return p.device
    return torch.device("cpu")


def inference_layout(module: M) -> M:
    """``module`` in eval mode with its 4-D weights in channels-last memory order (in place; returned).

    PyTorch's CPU convolutions take the channels-last path when the weights or the input are in it: on this
    project's 2-core CPU EdgeNet's crop (a CHW array) went from ~22 to ~11 ms (session 13), the segmenter on an
    NCHW tensor from ~58 to ~33 ms (its photos, HWC arrays turned to NCHW views, were channels-last already:
    ~44 -> ~41 ms), with outputs equal to ~1e-5. The parameters stay the same objects (only their storage order
    changes), so an optimizer holding them is unaffected.
    """
    return module.eval().to(memory_format=torch.channels_last)
