"""CLI: ``python -m core.catalog build|import|export``."""

from __future__ import annotations

import argparse
import sys
import time

from core.catalog.catalog import build_catalog, default_catalog_path, read_catalog, write_catalog
from core.catalog.csv_import import export_csv, import_csv
from core.errors import CatalogImportError, FvwError


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    p = argparse.ArgumentParser(prog="python -m core.catalog", description=__doc__)
    sub = p.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="generate the default 15,000-SKU catalog")
    b.add_argument("--db", default=None, help=f"SQLite output (default {default_catalog_path()})")
    i = sub.add_parser("import", help="validate a CSV and write it as a catalog database")
    i.add_argument("csv")
    i.add_argument("--db", required=True, help="SQLite output path")
    e = sub.add_parser("export", help="write a catalog database as CSV")
    e.add_argument("csv")
    e.add_argument("--db", default=None, help="SQLite catalog (default: the generated default catalog)")
    args = p.parse_args(argv)
    t0 = time.perf_counter()
    try:
        if args.cmd == "build":
            skus = build_catalog()
            path = write_catalog(skus, args.db or default_catalog_path())
            print(f"wrote {len(skus)} SKUs to {path} in {time.perf_counter() - t0:.2f} s")
        elif args.cmd == "import":
            skus = import_csv(args.csv)
            path = write_catalog(skus, args.db, source=str(args.csv))
            print(f"imported {len(skus)} SKUs into {path}")
        else:
            skus = read_catalog(args.db)
            print(f"exported {len(skus)} SKUs to {export_csv(skus, args.csv)}")
    except CatalogImportError as err:
        print(f"error: {len(err.row_errors)} problem(s) in {err.path}", file=sys.stderr)
        for row, msg in err.row_errors:
            print(f"  row {row}: {msg}", file=sys.stderr)
        return 2
    except FvwError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
