"""The labelme and X-AnyLabeling example corpora beside the project."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def corpus_jsons(shared_data: Path) -> list[Path]:
    """Every .json file in both corpora, history/ included, sorted."""
    out: list[Path] = []
    for name in ("labelme-examples", "xanylabeling-examples"):
        out += sorted((shared_data / name).rglob("*.json"))
    assert len(out) > 100, f"corpus looks incomplete: {len(out)} JSON files"
    return out


@pytest.fixture(scope="session")
def labelme_jsons(corpus_jsons: list[Path]) -> list[Path]:
    """The corpus files that are labelme annotations, decided without the code under test."""
    out = []
    for p in corpus_jsons:
        raw = json.loads(p.read_text(encoding="utf-8"))
        if isinstance(raw, dict) and "shapes" in raw:
            out.append(p)
    return out
