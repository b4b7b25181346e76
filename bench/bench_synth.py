"""Photo studio throughput: 1280x960 screw + coin photos (render only, and written as JPEG + labelme JSON)."""

from __future__ import annotations

import atexit
import itertools
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from bench.harness import register_timing

_BATCH = 10
_DATASET_N = 80


def _render_setup() -> Callable[[], object]:
    import cv2

    from core.catalog import load_arrays
    from core.synth.dataset import prewarm, render_index
    from core.synth.render import StudioConfig

    cv2.setNumThreads(1)  # one core, as one worker of the dataset generator
    cfg = StudioConfig()
    arrays = load_arrays()
    prewarm(cfg)
    counter = itertools.count()

    def run() -> object:
        start = next(counter) * _BATCH
        return [render_index(arrays, "search", 0, i, cfg) for i in range(start, start + _BATCH)]

    return run


def _dataset_setup(workers: int) -> Callable[[], Callable[[], object]]:
    def setup() -> Callable[[], object]:
        from core.catalog import load_arrays
        from core.synth.dataset import generate_dataset
        from core.synth.render import StudioConfig

        cfg = StudioConfig()
        load_arrays()  # the default catalog exists before timing; workers start fresh in every run
        root = Path(tempfile.mkdtemp(prefix="fvw-bench-synth-"))
        atexit.register(shutil.rmtree, root, ignore_errors=True)
        counter = itertools.count()

        def run() -> object:
            out = root / f"run{next(counter)}"
            metas = generate_dataset(out, _DATASET_N, seed=0, config=cfg, workers=workers)
            shutil.rmtree(out, ignore_errors=True)
            return metas

        return run

    return setup


register_timing(
    group="synth", name="render 1280x960, 1 core", setup=_render_setup, items=_BATCH, unit="photo", repeats=5
)
register_timing(
    group="synth",
    name="write dataset 1280x960, 1 worker",
    setup=_dataset_setup(1),
    items=_DATASET_N,
    unit="photo",
    repeats=5,
)
register_timing(
    group="synth",
    name="write dataset 1280x960, 2 workers",
    setup=_dataset_setup(2),
    items=_DATASET_N,
    unit="photo",
    repeats=5,
    baseline="write dataset 1280x960, 1 worker",
)
