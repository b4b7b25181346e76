"""Guards on the installed stack that other code silently depends on."""

from __future__ import annotations

import cv2
import torch
import torchvision


def test_opencv_contrib_ximgproc_present():
    # The GUI `opencv-python` wheel shadows contrib and removes cv2.ximgproc; the pins must keep it.
    assert hasattr(cv2, "ximgproc") and hasattr(cv2.ximgproc, "l0Smooth")


def test_torch_pins():
    assert torch.__version__.startswith("2.14.1")
    assert torchvision.__version__.startswith("0.29.1")


def test_importing_core_is_cheap():
    import subprocess
    import sys

    code = "import sys, core, core.errors, core.catalog; print(sorted(m for m in ('torch','streamlit','gradio','cv2') if m in sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == "[]"
