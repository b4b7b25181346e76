"""Fastener taxonomy and the SKU catalog."""

from __future__ import annotations

from core.catalog.taxonomy import (
    ATTRIBUTE_NAMES,
    ATTRIBUTES,
    FINISHES,
    HEADS,
    THREADS,
    TIPS,
    AttributeName,
    display_name,
    index_of,
    validate_value,
    values_of,
)

__all__ = [
    "ATTRIBUTE_NAMES",
    "ATTRIBUTES",
    "FINISHES",
    "HEADS",
    "THREADS",
    "TIPS",
    "AttributeName",
    "display_name",
    "index_of",
    "validate_value",
    "values_of",
]
