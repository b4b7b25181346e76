"""Fastener taxonomy and the SKU catalog."""

from __future__ import annotations

from core.catalog.catalog import (
    CATALOG_SIZE,
    CATALOG_VERSION,
    SKU,
    CatalogArrays,
    build_catalog,
    default_catalog_path,
    ensure_catalog,
    get_sku,
    load_arrays,
    read_catalog,
    sku_name,
    write_catalog,
)
from core.catalog.csv_import import CSV_COLUMNS, REQUIRED_COLUMNS, export_csv, import_csv
from core.catalog.geometry import HEAD_GEOMETRY, HeadGeometry, head_geometry
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
    "CATALOG_SIZE",
    "CATALOG_VERSION",
    "CSV_COLUMNS",
    "FINISHES",
    "HEADS",
    "HEAD_GEOMETRY",
    "REQUIRED_COLUMNS",
    "SKU",
    "THREADS",
    "TIPS",
    "AttributeName",
    "CatalogArrays",
    "HeadGeometry",
    "build_catalog",
    "default_catalog_path",
    "display_name",
    "ensure_catalog",
    "export_csv",
    "get_sku",
    "head_geometry",
    "import_csv",
    "index_of",
    "load_arrays",
    "read_catalog",
    "sku_name",
    "validate_value",
    "values_of",
    "write_catalog",
]
