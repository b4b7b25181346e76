"""Where the project keeps its datasets, models and runs (overridable by environment variables)."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["repo_root", "annotations_dir", "models_dir", "runs_dir"]

_REPO = Path(__file__).resolve().parents[1]


def repo_root() -> Path:
    """The repository root (the folder holding core/, apps/, models/)."""
    return _REPO


def annotations_dir() -> Path:
    """Datasets in labelme layout. ``FVW_ANNOTATIONS`` overrides the default ``<repo>/annotations``."""
    return Path(os.environ.get("FVW_ANNOTATIONS", _REPO / "annotations"))


def models_dir() -> Path:
    """Shipped and user checkpoints. ``FVW_MODELS`` overrides the default ``<repo>/models``."""
    return Path(os.environ.get("FVW_MODELS", _REPO / "models"))


def runs_dir() -> Path:
    """Training runs and the job registry. ``FVW_RUNS`` overrides the default ``<repo>/runs``."""
    return Path(os.environ.get("FVW_RUNS", _REPO / "runs"))
