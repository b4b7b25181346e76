"""Reading finished sweeps back: tables, curves vs k, and the checkpoint trained nearest a given k."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import CheckpointError, DatasetError

__all__ = ["SweepResults", "load_sweep", "find_sweeps", "DEFAULT_SWEEP"]

DEFAULT_SWEEP = "studio_sweep"  # the folder name shown first (shipped in models/texture/)


@dataclass(frozen=True)
class SweepResults:
    """A finished sweep folder (``results.json`` + ``ckpt/``)."""

    folder: Path
    data: dict[str, Any]

    @property
    def table(self) -> list[dict[str, Any]]:
        """Aggregated rows (mean/std over seeds) of every model."""
        return list(self.data.get("table", []))

    def k_rows(self) -> list[dict[str, Any]]:
        """Rows of the k-mixed models, sorted by k."""
        return sorted((r for r in self.table if r.get("k") is not None), key=lambda r: float(r["k"]))

    def curves(self, metrics: tuple[str, ...]) -> dict[str, list[float]]:
        """``{"k": [...], metric: [...]}`` for plotting metrics vs k (NaN where a metric is missing)."""
        rows = self.k_rows()
        out: dict[str, list[float]] = {"k": [float(r["k"]) for r in rows]}
        for m in metrics:
            out[m] = [float(r.get(m, math.nan)) for r in rows]
        return out

    def nearest_k(self, k: float) -> float:
        """The trained k closest to ``k`` (ties go to the smaller k)."""
        ks = [float(r["k"]) for r in self.k_rows()]
        if not ks:
            raise DatasetError("this sweep has no k-mixed models", path=self.folder)
        return min(ks, key=lambda v: (abs(v - k), v))

    def checkpoint_for(self, model: str) -> Path:
        """The seed-0 checkpoint of a model name (``k=0.40``, ``structure-layer``...)."""
        p = self.folder / "ckpt" / f"{model}.safetensors"
        if not p.is_file():
            raise CheckpointError(f"no checkpoint for model {model!r} in this sweep", path=p)
        return p

    def checkpoint_for_k(self, k: float) -> tuple[float, Path]:
        """``(nearest trained k, its checkpoint)``."""
        near = self.nearest_k(k)
        return near, self.checkpoint_for(f"k={near:.2f}")


def load_sweep(folder: str | Path) -> SweepResults:
    """Read ``<folder>/results.json``; a typed error says how to create it when missing."""
    f = Path(folder)
    path = f / "results.json"
    if not path.is_file():
        raise DatasetError(
            "no sweep results here; run `python -m core.texture sweep --out <folder>`", path=path
        )
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise DatasetError(f"unreadable sweep results: {e}", path=path) from e
    if not isinstance(data, dict) or "table" not in data:
        raise DatasetError("results.json has no 'table'; re-run the sweep", path=path)
    return SweepResults(f, data)


def find_sweeps(*roots: Path) -> list[Path]:
    """Folders under ``roots`` (one level deep, plus the roots) holding a sweep's ``results.json``.

    A folder named :data:`DEFAULT_SWEEP` comes first; the rest keep root order, then name order.
    """
    found: list[Path] = []
    for root in roots:
        if not root.is_dir():
            continue
        for cand in [root, *sorted(p for p in root.iterdir() if p.is_dir())]:
            res = cand / "results.json"
            if res.is_file() and (cand / "ckpt").is_dir() and cand not in found:
                found.append(cand)
    return sorted(found, key=lambda p: p.name != DEFAULT_SWEEP)
