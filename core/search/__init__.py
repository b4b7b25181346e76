"""Catalog search: rank SKUs by the classifiers' probabilities and the measured size."""

from __future__ import annotations

from core.search.result import COINS_MM, SearchEngine, SearchResult
from core.search.scoring import CatalogLike, Match, ScoringConfig, SizeMeasurement, score_catalog, top_k

__all__ = [
    "COINS_MM",
    "SearchEngine",
    "SearchResult",
    "CatalogLike",
    "Match",
    "ScoringConfig",
    "SizeMeasurement",
    "score_catalog",
    "top_k",
]
