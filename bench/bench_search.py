"""Catalog scoring speed: 15,000 SKUs (the shipped catalog size) and 1,000,000 synthetic SKUs.

Scored as the shipped engine scores: four attributes, diameter, and the head-to-tip length against nominal +
head allowance (``models/measure/head_allowance.json``; the nominal length when that file is missing).
"""

from __future__ import annotations

from bench.harness import register_timing


def _setup(n: int):
    def make():
        from dataclasses import dataclass

        import numpy as np

        from core.catalog.taxonomy import ATTRIBUTES
        from core.measure.head_allowance import load_head_allowance
        from core.search import ScoringConfig, SizeMeasurement, score_catalog

        @dataclass
        class _Arrays:
            ids: list[str]
            head_idx: np.ndarray
            finish_idx: np.ndarray
            tip_idx: np.ndarray
            thread_idx: np.ndarray
            length_mm: np.ndarray
            diameter_mm: np.ndarray

        rng = np.random.default_rng(0)
        cat = _Arrays(
            ids=[],
            head_idx=rng.integers(0, 32, n).astype(np.int16),
            finish_idx=rng.integers(0, 15, n).astype(np.int16),
            tip_idx=rng.integers(0, 12, n).astype(np.int16),
            thread_idx=rng.integers(0, 4, n).astype(np.int16),
            length_mm=rng.uniform(5, 100, n).astype(np.float32),
            diameter_mm=rng.uniform(2, 12, n).astype(np.float32),
        )
        probs = {k: rng.dirichlet(np.ones(len(v))) for k, v in ATTRIBUTES.items()}
        length, diameter = SizeMeasurement(30.0, 0.5), SizeMeasurement(4.0, 0.1)
        allowance = load_head_allowance()
        cfg = ScoringConfig(head_allowance=allowance)
        overall = SizeMeasurement(33.0, 2.0)
        return lambda: score_catalog(cat, probs, length, diameter, cfg, overall)

    return make


register_timing(
    group="search", name="score 15,000 SKUs", setup=_setup(15_000), items=15_000, unit="SKU", repeats=21
)
register_timing(
    group="search",
    name="score 1,000,000 SKUs",
    setup=_setup(1_000_000),
    items=1_000_000,
    unit="SKU",
    repeats=7,
    baseline="score 15,000 SKUs",
)
