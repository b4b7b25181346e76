"""The SKU catalog: 15,000 deterministic SKUs in an embedded SQLite database, loaded as arrays.

A SKU is one combination of the four attribute values plus a nominal length and diameter in mm.
The default catalog is not shipped: it is generated deterministically (< 5 s) on first use into
``runs_dir()/cache/catalog-v1.sqlite`` (or a path you give). Users' catalogs come from CSV through
:func:`core.catalog.csv_import.import_csv` and are written with :func:`write_catalog`.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
from numpy.typing import NDArray

from core.catalog.geometry import HEAD_GEOMETRY
from core.catalog.taxonomy import FINISHES, HEADS, THREADS, TIPS, display_name
from core.errors import CatalogError
from core.paths import runs_dir

__all__ = [
    "SKU",
    "CatalogArrays",
    "CATALOG_SIZE",
    "CATALOG_VERSION",
    "build_catalog",
    "default_catalog_path",
    "ensure_catalog",
    "write_catalog",
    "read_catalog",
    "load_arrays",
    "get_sku",
    "sku_name",
]

CATALOG_SIZE: Final[int] = 15_000
CATALOG_VERSION: Final[str] = "fvw-catalog-v1"
_SEED: Final[int] = 20_261_123
_LENGTHS: Final[tuple[float, ...]] = (
    3, 4, 5, 6, 8, 10, 12, 14, 16, 20, 25, 30, 35, 40, 45, 50, 60, 70, 80, 90, 100, 120, 140, 160,
)  # fmt: skip
_DIAMETERS: Final[tuple[float, ...]] = (2, 2.5, 3, 3.5, 4, 4.5, 5, 6, 8, 10, 12)
# Diameter ranges (mm) where a head type is usually made; others use the full series.
_DIAMETER_RANGE: Final[dict[str, tuple[float, float]]] = {
    "trim": (2.5, 4),
    "bugle": (3.5, 5),
    "wing": (4, 10),
    "eye": (4, 12),
    "thumb": (3, 8),
    "knurled": (3, 8),
    "wafer": (3.5, 6),
    "pancake": (3.5, 6),
    "t_head": (5, 12),
    "shoulder": (4, 12),
    "carriage": (5, 12),
    "twelve_point": (5, 12),
}
_SHORT_FRACTION: Final[float] = 0.08  # SKUs whose length is close to their head diameter

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE skus (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, head TEXT NOT NULL, finish TEXT NOT NULL,
    tip TEXT NOT NULL, thread TEXT NOT NULL, length_mm REAL NOT NULL, diameter_mm REAL NOT NULL
);
"""


@dataclass(frozen=True)
class SKU:
    """One catalog entry (attribute values are taxonomy keys; sizes in mm)."""

    id: str
    name: str
    head: str
    finish: str
    tip: str
    thread: str
    length_mm: float
    diameter_mm: float

    @property
    def head_diameter_mm(self) -> float:
        """Nominal head diameter from the head type's proportions."""
        return HEAD_GEOMETRY[self.head].diameter * self.diameter_mm

    def attributes(self) -> dict[str, str]:
        """The four attribute values as a dict (``head``, ``finish``, ``tip``, ``thread``)."""
        return {"head": self.head, "finish": self.finish, "tip": self.tip, "thread": self.thread}


@dataclass(frozen=True)
class CatalogArrays:
    """The catalog as parallel arrays for scoring (row i is one SKU; indices follow the taxonomy order)."""

    ids: NDArray[np.str_]
    names: NDArray[np.str_]
    head_idx: NDArray[np.int16]
    finish_idx: NDArray[np.int16]
    tip_idx: NDArray[np.int16]
    thread_idx: NDArray[np.int16]
    length_mm: NDArray[np.float32]
    diameter_mm: NDArray[np.float32]

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    def sku(self, i: int) -> SKU:
        """Row ``i`` as a :class:`SKU`."""
        return SKU(
            id=str(self.ids[i]),
            name=str(self.names[i]),
            head=HEADS[int(self.head_idx[i])],
            finish=FINISHES[int(self.finish_idx[i])],
            tip=TIPS[int(self.tip_idx[i])],
            thread=THREADS[int(self.thread_idx[i])],
            length_mm=float(self.length_mm[i]),
            diameter_mm=float(self.diameter_mm[i]),
        )

    def row_of(self, sku_id: str) -> int:
        """Row index of ``sku_id``; raises :class:`CatalogError` when absent."""
        hits = np.flatnonzero(self.ids == sku_id)
        if hits.size == 0:
            raise CatalogError(f"unknown SKU id {sku_id!r}; ids look like {self.ids[0]!r}", field="id")
        return int(hits[0])


def sku_name(head: str, finish: str, tip: str, thread: str, length_mm: float, diameter_mm: float) -> str:
    """Human-readable SKU name, e.g. ``Pan head 4 x 20 mm, Zinc, Sharp (gimlet) point, Fully threaded``."""
    # "flat" is both a head and a tip value; as a tip it is a flat point, not a countersunk head.
    tip_name = "Flat" if tip == "flat" else display_name(tip)
    if "point" not in tip_name.lower():
        tip_name += " point"
    return (
        f"{display_name(head)} head {diameter_mm:g} x {length_mm:g} mm, {display_name(finish)}, "
        f"{tip_name}, {display_name(thread)}"
    )


def _key(head: str, finish: str, tip: str, thread: str, length: float, diam: float) -> str:
    return f"{head}|{finish}|{tip}|{thread}|{length:g}|{diam:g}"


def build_catalog(n: int = CATALOG_SIZE) -> list[SKU]:
    """Generate the default catalog deterministically.

    Sizes follow each head type's usual diameter range; lengths are standard lengths between
    about 1.5 and 20 diameters, plus ~8 % short screws whose length is close to the head diameter.
    Ids ``FVW-000001``... follow the SHA-1 order of the SKU keys, so they do not depend on Python's
    hash seed or on the sampling order.

    Args:
        n: number of SKUs (default 15,000).
    """
    if n < len(HEADS):
        raise CatalogError(f"a catalog needs at least {len(HEADS)} SKUs (one per head); got n={n}")
    rng = np.random.default_rng(_SEED)
    lengths = np.asarray(_LENGTHS)
    keys: dict[str, tuple[str, str, str, str, float, float]] = {}
    i = 0
    while len(keys) < n:
        head = HEADS[i % len(HEADS)] if i < len(HEADS) else HEADS[int(rng.integers(len(HEADS)))]
        i += 1
        lo, hi = _DIAMETER_RANGE.get(head, (2.0, 12.0))
        diams = [d for d in _DIAMETERS if lo <= d <= hi]
        d = float(diams[int(rng.integers(len(diams)))])
        if rng.random() < _SHORT_FRACTION:
            target = HEAD_GEOMETRY[head].diameter * d * rng.uniform(0.8, 1.3)
            length = float(lengths[int(np.argmin(np.abs(lengths - target)))])
        else:
            ok = lengths[(lengths >= max(3.0, 1.5 * d)) & (lengths <= min(160.0, 20.0 * d))]
            length = float(ok[int(rng.integers(len(ok)))])
        finish = FINISHES[int(rng.integers(len(FINISHES)))]
        tip = TIPS[int(rng.integers(len(TIPS)))]
        thread = THREADS[int(rng.integers(len(THREADS)))]
        keys.setdefault(_key(head, finish, tip, thread, length, d), (head, finish, tip, thread, length, d))
    order = sorted(keys, key=lambda k: hashlib.sha1(k.encode()).hexdigest())
    out = []
    for j, k in enumerate(order, start=1):
        head, finish, tip, thread, length, d = keys[k]
        name = sku_name(head, finish, tip, thread, length, d)
        out.append(SKU(f"FVW-{j:06d}", name, head, finish, tip, thread, length, d))
    return out


def default_catalog_path() -> Path:
    """Where the generated default catalog is cached (``runs_dir()/cache/catalog-v1.sqlite``)."""
    return runs_dir() / "cache" / "catalog-v1.sqlite"


def write_catalog(skus: list[SKU], path: str | Path, *, source: str = CATALOG_VERSION) -> Path:
    """Write ``skus`` to a new SQLite file at ``path`` atomically (temp file + ``os.replace``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".catalog-", suffix=".sqlite", dir=path.parent)
    os.close(fd)
    try:
        con = sqlite3.connect(tmp)
        try:
            con.executescript(_SCHEMA)
            con.executemany(
                "INSERT INTO meta VALUES (?, ?)", [("version", CATALOG_VERSION), ("source", source)]
            )
            con.executemany(
                "INSERT INTO skus VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [(s.id, s.name, s.head, s.finish, s.tip, s.thread, s.length_mm, s.diameter_mm) for s in skus],
            )
            con.commit()
        finally:
            con.close()
        # A failed build must leave any previous catalog intact: replace only when complete.
        os.replace(tmp, path)
    except sqlite3.Error as e:
        raise CatalogError(f"could not write the catalog: {e}", path=path) from e
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def ensure_catalog(path: str | Path | None = None) -> Path:
    """Return the catalog path, building the default catalog there first if the file is missing."""
    path = Path(path) if path is not None else default_catalog_path()
    if not path.exists():
        write_catalog(build_catalog(), path)
    return path


def _rows(path: Path) -> list[tuple]:
    if not path.is_file():
        raise CatalogError(
            "catalog file not found; run `python -m core.catalog build` or import a CSV", path=path
        )
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            return con.execute(
                "SELECT id, name, head, finish, tip, thread, length_mm, diameter_mm FROM skus ORDER BY rowid"
            ).fetchall()
        finally:
            con.close()
    except sqlite3.Error as e:
        raise CatalogError(f"not a readable catalog database: {e}", path=path) from e


def read_catalog(path: str | Path | None = None) -> list[SKU]:
    """All SKUs of the catalog at ``path`` (default catalog, built if missing, when None)."""
    p = ensure_catalog() if path is None else Path(path)
    return [SKU(*r) for r in _rows(p)]


def load_arrays(path: str | Path | None = None) -> CatalogArrays:
    """The catalog as :class:`CatalogArrays` (< 1 s for 15,000 SKUs).

    Args:
        path: SQLite catalog; None uses the default catalog, building it on first use.

    Raises:
        CatalogError: the file is missing, unreadable, or holds values outside the taxonomy.
    """
    p = ensure_catalog() if path is None else Path(path)
    rows = _rows(p)
    if not rows:
        raise CatalogError("the catalog holds no SKUs", path=p)
    cols = list(zip(*rows, strict=True))
    idx = []
    for col, vocab, name in zip(
        cols[2:6], (HEADS, FINISHES, TIPS, THREADS), ("head", "finish", "tip", "thread"), strict=True
    ):
        lut = {v: k for k, v in enumerate(vocab)}
        try:
            idx.append(np.fromiter((lut[v] for v in col), dtype=np.int16, count=len(col)))
        except KeyError as e:
            raise CatalogError(
                f"unknown {name} value {e.args[0]!r} in the catalog", path=p, field=name
            ) from e
    return CatalogArrays(
        ids=np.asarray(cols[0], dtype=str),
        names=np.asarray(cols[1], dtype=str),
        head_idx=idx[0],
        finish_idx=idx[1],
        tip_idx=idx[2],
        thread_idx=idx[3],
        length_mm=np.asarray(cols[6], dtype=np.float32),
        diameter_mm=np.asarray(cols[7], dtype=np.float32),
    )


def get_sku(sku_id: str, path: str | Path | None = None) -> SKU:
    """Look one SKU up by id; raises :class:`CatalogError` when absent."""
    p = ensure_catalog() if path is None else Path(path)
    for r in _rows(p):
        if r[0] == sku_id:
            return SKU(*r)
    raise CatalogError(f"unknown SKU id {sku_id!r}", path=p, field="id")
