"""Photo -> top-10 time of the search engine over many photos, per GrabCut setting (validation photos).

The time of one photo depends on its screw (GrabCut's box grows with it) and on the blobs the segmenter finds,
so it is measured over ``--n`` photos after a warm-up, and the median, mean and 90th percentile reported::

    python -m bench.search_latency --seed 4600000 --n 24
    python -m bench.search_latency --seed 4600000 --n 24 --max-pixels 0 100000 50000 --view-reaches 0

Each ``--max-pixels`` value (:class:`core.segment.refine.GrabCutConfig`) is timed with the engine's cuts and, with
``--view-reaches``, again with those extra cuts (``LocateConfig.view_reaches``).
"""

from __future__ import annotations

import argparse
import contextlib
import time
from dataclasses import replace

import numpy as np


def measure(
    seed: int, n: int, max_pixels: list[int], view_reaches: tuple[float, ...]
) -> list[dict[str, object]]:
    from core.errors import NoScrewFoundError
    from core.search.engine import default_engine
    from core.synth.dataset import render_index
    from core.synth.render import StudioConfig

    engine = default_engine()
    base = engine.locator
    photos = [render_index(engine.catalog, "search", seed, i, StudioConfig()) for i in range(n)]
    engine.search(photos[0].image)  # warm-up
    rows: list[dict[str, object]] = []
    for mp in max_pixels:
        for reaches in dict.fromkeys((base.config.view_reaches, view_reaches)):
            engine.locator = base.with_config(
                view_reaches=reaches, grabcut=replace(base.config.grabcut, max_pixels=mp)
            )
            ms = []
            for p in photos:
                t = time.perf_counter()
                with contextlib.suppress(NoScrewFoundError):  # that answer is timed too
                    engine.search(p.image, coin=p.meta["coin"]["type"])
                ms.append(1000 * (time.perf_counter() - t))
            rows.append(
                {
                    "max_pixels": mp,
                    "view_reaches": reaches,
                    "median_ms": float(np.median(ms)),
                    "mean_ms": float(np.mean(ms)),
                    "p90_ms": float(np.quantile(ms, 0.9)),
                }
            )
    engine.locator = base
    return rows


def main(argv: list[str] | None = None) -> int:
    from core.segment.refine import GrabCutConfig

    p = argparse.ArgumentParser(prog="python -m bench.search_latency", description=__doc__.split("\n")[0])
    p.add_argument("--seed", type=int, default=4_600_000, help="photo stream (a validation one)")
    p.add_argument("--n", type=int, default=24, help="photos")
    p.add_argument("--max-pixels", type=int, nargs="+", default=[GrabCutConfig.max_pixels])
    p.add_argument("--view-reaches", type=float, nargs="*", default=[], help="extra cuts to time as well")
    a = p.parse_args(argv)
    if a.n < 1:
        p.error("--n must be >= 1")
    print("| GrabCut max_pixels | extra cuts | median ms | mean ms | p90 ms |")
    print("|---|---|---|---|---|")
    for r in measure(a.seed, a.n, a.max_pixels, tuple(a.view_reaches)):
        print(
            f"| {r['max_pixels']:,} | {r['view_reaches'] or 'none'} | {r['median_ms']:.0f} | {r['mean_ms']:.0f} "
            f"| {r['p90_ms']:.0f} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
