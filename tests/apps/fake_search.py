"""A fake search engine for the Gradio app's tests: deterministic, instant, and able to fail on cue."""

from __future__ import annotations

import numpy as np

from core.errors import NoScrewFoundError
from core.search.result import SearchResult
from core.search.scoring import Match


class FakeEngine:
    """Finds a 'screw' in any photo that is not (nearly) all white; says so otherwise. With a click, finds one
    wherever the clicked pixel is not white."""

    def __init__(self) -> None:
        self.calls: list[tuple[tuple[int, ...], str, int]] = []
        self.clicks: list[tuple[float, float] | None] = []

    def search(
        self,
        image: np.ndarray,
        *,
        coin: str = "euro_1",
        k: int = 10,
        click: tuple[float, float] | None = None,
    ) -> SearchResult:
        self.calls.append((image.shape, coin, k))
        self.clicks.append(click)
        if click is not None and image[int(click[1]), int(click[0])].min() >= 250:
            raise NoScrewFoundError("nothing stands out from its surroundings at the clicked point")
        if click is None and image.mean() > 240:
            raise NoScrewFoundError("the segmenter found no screw pixels")
        matches = [
            Match(
                sku=f"FVW-{i:06d}",
                score=-float(i),
                attributes={
                    "head": ("pan", 0.9),
                    "finish": ("zinc", 0.8),
                    "tip": ("sharp", 0.7),
                    "thread": ("full", 0.9),
                },
                length_mm=20.0,
                diameter_mm=4.0,
            )
            for i in range(k)
        ]
        no_coin = image[..., 2].mean() > 200
        return SearchResult(
            overlay=image.copy(),
            crops={"head": image[:8, :8].copy(), "tip": image[-8:, -8:].copy()},
            length_mm=None if no_coin else 20.3,
            length_sigma_mm=None if no_coin else 0.4,
            diameter_mm=None if no_coin else 4.1,
            diameter_sigma_mm=None if no_coin else 0.1,
            coin=None
            if no_coin
            else {
                "type": coin,
                "radius_px": 40.0,
                "px_per_mm": 3.4,
                "fit": "ellipse on image edges",
                "tilt_deg": 11.6,
            },
            attributes={"head": [("pan", 0.9), ("round", 0.05), ("truss", 0.03)]},
            matches=matches,
            warnings=["no coin found: sizes unavailable, ranking uses the attributes only"]
            if no_coin
            else [],
            timings_ms={"segment": 1.0},
            clicked=click is not None,
        )

    def thumbnail(self, sku: str, size: int = 128) -> np.ndarray:
        return np.full((size, size, 3), 128, np.uint8)
