"""Locate pipeline: held-out synthetic figures and segment + pose + measure latency at 512 px (2 threads)."""

from __future__ import annotations

from bench.harness import register_figures, register_timing


def _locator():
    import torch

    from core.locate.pipeline import Locator
    from core.paths import models_dir

    torch.set_num_threads(2)
    return Locator.from_files(models_dir() / "segmenter" / "segmenter.safetensors")


def _figures(n: int):
    def fn() -> dict[str, float | str]:
        from core.segment.evaluate import evaluate_heldout

        return dict(evaluate_heldout(_locator(), n=n))

    return fn


def _timing():
    from core.segment.data import HELDOUT_SEED_BASE
    from core.segment.scenes import SceneConfig, render_scene

    loc = _locator()
    image = render_scene(HELDOUT_SEED_BASE + 1, SceneConfig(size=(512, 512))).image
    return lambda: loc.locate(image)


register_figures(group="locate", name="held-out synthetic photos", fn=_figures(100), quick_fn=_figures(10))
register_timing(
    group="locate", name="segment+pose+measure 512px", setup=_timing, items=1, unit="photo", repeats=5
)
