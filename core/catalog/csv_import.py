"""Import and export users' catalogs as CSV, with row-level validation.

Columns (header required, order free): ``id, head, finish, tip, thread, length_mm, diameter_mm`` and
an optional ``name`` (generated from the attributes when empty). Row numbers in errors are the line
numbers of the file as a spreadsheet shows them: the header is row 1, the first SKU row 2.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Final

from core.catalog.catalog import SKU, sku_name
from core.catalog.taxonomy import ATTRIBUTES
from core.errors import CatalogImportError

__all__ = ["CSV_COLUMNS", "REQUIRED_COLUMNS", "import_csv", "export_csv"]

REQUIRED_COLUMNS: Final[tuple[str, ...]] = (
    "id",
    "head",
    "finish",
    "tip",
    "thread",
    "length_mm",
    "diameter_mm",
)
CSV_COLUMNS: Final[tuple[str, ...]] = ("id", "name", *REQUIRED_COLUMNS[1:])
_MAX_ID_LEN: Final[int] = 64
_SIZE_LIMITS: Final[dict[str, tuple[float, float]]] = {
    "length_mm": (0.5, 1000.0),
    "diameter_mm": (0.5, 100.0),
}


def _parse_size(raw: str, field: str) -> tuple[float | None, str | None]:
    lo, hi = _SIZE_LIMITS[field]
    try:
        value = float(raw.strip().replace(",", "."))
    except ValueError:
        return None, f"{field} {raw!r} is not a number (write millimetres, e.g. 25 or 3.5)"
    if not math.isfinite(value) or not lo <= value <= hi:
        return None, f"{field} {raw!r} is outside {lo:g}..{hi:g} mm"
    return value, None


def _parse_row(row: dict[str, str | None]) -> tuple[SKU | None, list[str]]:
    errors: list[str] = []
    cells = {k: (v or "").strip() for k, v in row.items() if k is not None}
    if None in row:
        errors.append("more cells than header columns (a comma inside a value needs quotes)")
    sku_id = cells.get("id", "")
    if not sku_id:
        errors.append("id is empty")
    elif len(sku_id) > _MAX_ID_LEN:
        errors.append(f"id is longer than {_MAX_ID_LEN} characters")
    values: dict[str, str] = {}
    for attr, vocab in ATTRIBUTES.items():
        v = cells.get(attr, "").lower()
        if v not in vocab:
            errors.append(f"unknown {attr} value {cells.get(attr, '')!r}; valid values: {', '.join(vocab)}")
        values[attr] = v
    sizes: dict[str, float] = {}
    for field in ("length_mm", "diameter_mm"):
        value, err = _parse_size(cells.get(field, ""), field)
        if err:
            errors.append(err)
        elif value is not None:
            sizes[field] = value
    if errors:
        return None, errors
    name = cells.get("name") or sku_name(
        values["head"],
        values["finish"],
        values["tip"],
        values["thread"],
        sizes["length_mm"],
        sizes["diameter_mm"],
    )
    return SKU(sku_id, name, values["head"], values["finish"], values["tip"], values["thread"],
               sizes["length_mm"], sizes["diameter_mm"]), []  # fmt: skip


def import_csv(path: str | Path) -> list[SKU]:
    """Read and validate a catalog CSV.

    Args:
        path: a UTF-8 (optionally with BOM) CSV file with the columns of :data:`CSV_COLUMNS`.

    Returns:
        The SKUs in file order; write them with :func:`core.catalog.write_catalog`.

    Raises:
        CatalogImportError: missing file or columns, or invalid rows; ``row_errors`` lists every
            (row number, message) so a user can fix them all in one pass.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise CatalogImportError("catalog CSV not found", [], path=path) from None
    except (OSError, UnicodeDecodeError) as e:
        raise CatalogImportError(f"cannot read the CSV as UTF-8 text ({e})", [], path=path) from e
    reader = csv.DictReader(text.splitlines())
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise CatalogImportError(
            f"missing columns {', '.join(missing)} (header must name {', '.join(CSV_COLUMNS)})",
            [(1, f"header is {', '.join(header) or 'empty'}")],
            path=path,
        )
    reader.fieldnames = header
    skus: list[SKU] = []
    row_errors: list[tuple[int, str]] = []
    first_row: dict[str, int] = {}
    for rownum, row in enumerate(reader, start=2):
        if not any((v or "").strip() for k, v in row.items() if k is not None):
            continue  # blank line
        sku, errors = _parse_row(row)
        sku_id = (row.get("id") or "").strip()
        if sku_id and sku_id in first_row:
            errors.append(f"duplicate id {sku_id!r} (first used in row {first_row[sku_id]})")
        elif sku_id:
            first_row[sku_id] = rownum
        row_errors.extend((rownum, e) for e in errors)
        if sku is not None and not errors:
            skus.append(sku)
    if row_errors:
        raise CatalogImportError(f"{len(row_errors)} problem(s) in the catalog CSV", row_errors, path=path)
    if not skus:
        raise CatalogImportError("the CSV holds no SKU rows", [], path=path)
    return skus


def export_csv(skus: list[SKU], path: str | Path) -> Path:
    """Write ``skus`` as a CSV that :func:`import_csv` reads back unchanged."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(CSV_COLUMNS)
        for s in skus:
            w.writerow(
                [s.id, s.name, s.head, s.finish, s.tip, s.thread, f"{s.length_mm:g}", f"{s.diameter_mm:g}"]
            )
    return path
