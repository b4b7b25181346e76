"""A train/val/test split saved in the dataset folder (``<dataset>/split.json``).

The split lists photo file names per subset. It is deterministic for a seed, and a photo keeps its subset
when the split is remade after new photos were added (only new photos are assigned), so a model's
validation photos never leak into training.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from core.datasets._io import write_json_atomic
from core.errors import DatasetError, InputError

__all__ = ["SPLIT_FILE", "SUBSETS", "make_split", "save_split", "load_split"]

SPLIT_FILE = "split.json"
SUBSETS = ("train", "val", "test")


def make_split(
    names: list[str],
    fractions: tuple[float, float, float] = (0.8, 0.1, 0.1),
    seed: int = 0,
    previous: dict[str, list[str]] | None = None,
) -> dict[str, list[str]]:
    """Assign photo names to train/val/test.

    Args:
        names: photo file names.
        fractions: target shares of train, val, test (non-negative, summing to 1).
        seed: shuffling seed.
        previous: an earlier split; its photos keep their subset, only the others are assigned.

    Raises:
        InputError: fractions are negative or do not sum to 1.
    """
    if len(fractions) != 3 or any(f < 0 for f in fractions) or abs(sum(fractions) - 1.0) > 1e-6:
        raise InputError(f"split fractions must be 3 non-negative numbers summing to 1, got {fractions}")
    previous = previous or {}
    out: dict[str, list[str]] = {k: [n for n in previous.get(k, []) if n in set(names)] for k in SUBSETS}
    assigned = {n for v in out.values() for n in v}
    new = sorted(n for n in set(names) if n not in assigned)
    random.Random(seed).shuffle(new)
    total = len(names)
    for n in new:
        # put each new photo where the subset is furthest below its target count
        deficits = [fractions[i] * total - len(out[k]) for i, k in enumerate(SUBSETS)]
        out[SUBSETS[max(range(3), key=lambda i: deficits[i])]].append(n)
    return {k: sorted(v) for k, v in out.items()}


def save_split(root: str | Path, split: dict[str, list[str]], seed: int = 0) -> Path:
    """Write ``split`` to ``<root>/split.json`` atomically."""
    unknown = set(split) - set(SUBSETS)
    if unknown:
        raise InputError(f"unknown subsets {sorted(unknown)}; valid: {', '.join(SUBSETS)}")
    path = Path(root) / SPLIT_FILE
    write_json_atomic(path, {"seed": seed, **{k: split.get(k, []) for k in SUBSETS}})
    return path


def load_split(root: str | Path) -> dict[str, list[str]] | None:
    """The saved split, or None if the dataset has none.

    Raises:
        DatasetError: ``split.json`` exists but is malformed.
    """
    path = Path(root) / SPLIT_FILE
    if not path.is_file():
        return None
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return {k: [str(n) for n in raw.get(k, [])] for k in SUBSETS}
    except (ValueError, AttributeError, TypeError) as e:
        raise DatasetError(f"split file is malformed ({e}); delete it and save a new split", path=path) from e
