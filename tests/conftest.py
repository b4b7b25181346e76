"""Shared fixtures: the real data beside the project, small deterministic threads."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("OMP_NUM_THREADS", "2")
# The workbench renders a default dataset on first start; tests opt in explicitly.
os.environ.setdefault("FVW_NO_DEFAULT_DATASET", "1")

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = (REPO / ".." / "shared" / "data").resolve()


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` beside the repository (labelme, X-AnyLabeling and cue-conflict examples)."""
    if not SHARED_DATA.is_dir():
        pytest.fail(f"{SHARED_DATA} is missing: CI and developers have ../shared beside the project")
    return SHARED_DATA
