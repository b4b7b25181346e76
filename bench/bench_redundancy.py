"""Redundancy study: teacher vs student forward latency (CPU, batch 1 and 64) and the tiling operation.

The student is the plan the study builds for an estimate of 1/4 (widths x 0.75, stride-2 first layer);
``docs/redundancy/report.md`` has the accuracy side measured on studio head crops.
"""

from __future__ import annotations

from bench.harness import register_figures, register_timing

_SIZE = 48


def _forward(student: bool, batch: int):
    def make():
        import torch

        from core.redundancy import build_backbone

        kw = {"width": 0.75, "first_stride": 2} if student else {}
        model = build_backbone("vgg_small", 6, **kw).eval()
        x = torch.randn(batch, 3, _SIZE, _SIZE)

        def run() -> object:
            with torch.no_grad():
                return model(x)

        return run

    return make


def _tiling():
    import numpy as np

    from core.redundancy import apply_tiling_batch

    images = np.random.default_rng(0).integers(0, 256, (64, _SIZE, _SIZE, 3), dtype=np.uint8)
    return lambda: apply_tiling_batch(images, "GRI")


def _params() -> dict[str, float | str]:
    from core.redundancy import build_backbone, count_parameters

    figures: dict[str, float | str] = {}
    for name in ("vgg_small", "vgg16_bn"):
        t = count_parameters(build_backbone(name, 10))
        s = count_parameters(build_backbone(name, 10, width=0.75, first_stride=2))
        figures[f"{name} params"] = float(t)
        figures[f"{name} student params"] = float(s)
        figures[f"{name} reduction"] = f"{1 - s / t:.1%}"
    return figures


for _batch in (1, 64):
    register_timing(
        group="redundancy", name=f"teacher vgg_small b{_batch}", setup=_forward(False, _batch),
        items=_batch, unit="image", repeats=21,
    )  # fmt: skip
    register_timing(
        group="redundancy", name=f"student x0.75 s2 b{_batch}", setup=_forward(True, _batch),
        items=_batch, unit="image", repeats=21, baseline=f"teacher vgg_small b{_batch}",
    )  # fmt: skip
register_timing(group="redundancy", name="tiling GRI 64 images", setup=_tiling, items=64, unit="image")
register_figures(group="redundancy", name="student parameters (estimate 1/4)", fn=_params)
