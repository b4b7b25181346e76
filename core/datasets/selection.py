"""Which segmenter checkpoint the search app uses: a small settings file, ``<models>/selected.json``.

Format: ``{"segmenter": "<path relative to the models folder>"}``. The Models page writes it; the search
app reads :func:`selected_model` and falls back to its default when the file is absent. (This lives here
until core/inventory owns model settings.)
"""

from __future__ import annotations

import json
from pathlib import Path

from core.datasets._io import write_json_atomic
from core.errors import ConfigError, PathEscapeError

__all__ = ["SELECTION_FILE", "select_model", "selected_model"]

SELECTION_FILE = "selected.json"


def select_model(models_root: str | Path, checkpoint: str | Path, role: str = "segmenter") -> Path:
    """Record ``checkpoint`` (inside ``models_root``) as the model for ``role``; returns the settings file.

    Raises:
        PathEscapeError: the checkpoint is outside ``models_root``.
        ConfigError: the checkpoint file does not exist.
    """
    root = Path(models_root).resolve()
    ckpt = Path(checkpoint).resolve()
    if not ckpt.is_file():
        raise ConfigError("checkpoint not found; pick one listed on the Models page", path=ckpt)
    if not ckpt.is_relative_to(root):
        raise PathEscapeError(f"the checkpoint must be inside the models folder {root}", path=ckpt)
    path = root / SELECTION_FILE
    data = _read(path)
    data[role] = ckpt.relative_to(root).as_posix()
    write_json_atomic(path, data)
    return path


def _read(path: Path) -> dict[str, str]:
    if not path.is_file():
        return {}
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as e:
        raise ConfigError(
            f"settings file is not valid JSON ({e}); delete it and choose again", path=path
        ) from e
    if not isinstance(raw, dict):
        raise ConfigError("settings file must hold a JSON object", path=path)
    return {str(k): str(v) for k, v in raw.items()}


def selected_model(models_root: str | Path, role: str = "segmenter") -> Path | None:
    """The chosen checkpoint for ``role``, or None when none is chosen or the file has gone."""
    root = Path(models_root)
    rel = _read(root / SELECTION_FILE).get(role)
    if rel is None:
        return None
    path = (root / rel).resolve()
    return path if path.is_file() and path.is_relative_to(root.resolve()) else None
