"""What one photo search returns, and the interface every search engine (real or fake) implements."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from core.catalog.coins import COINS
from core.search.scoring import Match

__all__ = ["COINS_MM", "SearchResult", "SearchEngine", "ExamplePhoto"]

# The coins a user can pick (one table for the whole project).
COINS_MM = COINS


@dataclass
class SearchResult:
    """The answer to one photo, with its evidence.

    Attributes:
        overlay: (H, W, 3) uint8 RGB photo with screw and coin masks drawn.
        crops: canonical head-up crops by name (``head``, ``tip``, ``body``, ``canonical``), uint8 RGB.
        length_mm / diameter_mm: measured sizes (None when unavailable, e.g. no coin), with 1-sigma; the
            length is nominal (under the head unless countersunk), ``overall_length_mm`` head to tip.
        coin: centre (x, y), radius_px, px_per_mm and type, or None when no coin was found.
        polygon: the outline of the screw the answer is for, [[x, y], ...] in the photo's pixels.
        clicked: the screw was the one a person clicked (``search(click=...)``), not the engine's choice.
        attributes: attribute -> top values as (value, probability), best first.
        matches: ranked SKUs, best first.
        warnings: things a person should know (no coin: sizes not used; several screws: first used).
        timings_ms: stage -> milliseconds.
    """

    overlay: NDArray[np.uint8]
    crops: dict[str, NDArray[np.uint8]] = field(default_factory=dict)
    length_mm: float | None = None
    length_sigma_mm: float | None = None
    diameter_mm: float | None = None
    diameter_sigma_mm: float | None = None
    overall_length_mm: float | None = None
    overall_length_sigma_mm: float | None = None
    coin: dict[str, object] | None = None
    polygon: list[list[float]] = field(default_factory=list)
    clicked: bool = False
    attributes: dict[str, list[tuple[str, float]]] = field(default_factory=dict)
    matches: list[Match] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    timings_ms: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        return {
            "length_mm": self.length_mm,
            "length_sigma_mm": self.length_sigma_mm,
            "diameter_mm": self.diameter_mm,
            "diameter_sigma_mm": self.diameter_sigma_mm,
            "overall_length_mm": self.overall_length_mm,
            "overall_length_sigma_mm": self.overall_length_sigma_mm,
            "coin": self.coin,
            "polygon": self.polygon,
            "clicked": self.clicked,
            "attributes": {k: [[v, round(p, 4)] for v, p in vals] for k, vals in self.attributes.items()},
            "matches": [m.to_json() for m in self.matches],
            "warnings": self.warnings,
            "timings_ms": {k: round(v, 1) for k, v in self.timings_ms.items()},
        }


class SearchEngine(Protocol):
    """Photo in, ranked SKUs out. Must be thread-safe (the app serves several users at once)."""

    def search(
        self,
        image: NDArray[np.uint8],
        *,
        coin: str = "euro_1",
        k: int = 10,
        click: tuple[float, float] | None = None,
    ) -> SearchResult:
        """Search one (H, W, 3) uint8 RGB photo; ``click`` = (x, y) of the screw a person pointed at (None: the
        engine picks). Raises NoScrewFoundError, InputError, ..."""
        ...

    def thumbnail(self, sku: str, size: int = 128) -> NDArray[np.uint8]:
        """A rendered picture of a catalog SKU (uint8 RGB, size x size)."""
        ...


@dataclass(frozen=True)
class ExamplePhoto:
    """One of the app's example photos (:func:`core.search.engine.example_set`): its file, the coin lying in
    it and a label (the screw's SKU, its length, the background and the coin), so the user can check the
    answer and the app can set the coin with the photo."""

    path: str
    coin: str
    label: str
