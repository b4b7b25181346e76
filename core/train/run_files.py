"""What a training run leaves in its folder, written so a kill at any moment leaves readable files.

Layout of ``out_dir``::

    config.json          the full configuration (engine + task options)
    metrics.jsonl        one JSON line per epoch, then one final line ({"final": true, ...})
    progress.json        {"done", "total", "epoch", "epochs", "status", "eta_s", "error"} for the job registry
    tb/                  TensorBoard event files
    checkpoints/last.pt  model, optimizer, scheduler, epoch, best, history, RNG states (every epoch)
    checkpoints/best.pt  the best weights by the monitored metric
    cancel               created by the workbench to ask the run to stop (polled between batches)

Every file that matters is written to a temporary file beside the target and moved over it with
``os.replace``, so a reader (or a resume) never sees half a file.
"""

from __future__ import annotations

import json
import math
import os
import random
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from core.errors import CheckpointError

__all__ = [
    "write_json_atomic",
    "ProgressWriter",
    "write_metrics",
    "append_metrics",
    "save_checkpoint_atomic",
    "load_run_checkpoint",
    "rng_state",
    "set_rng_state",
]


def _jsonable(value: Any) -> Any:
    """NaN/inf are not JSON: write them as null so every reader can parse the line."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def write_json_atomic(path: Path, data: Mapping[str, Any]) -> None:
    """Write ``data`` as JSON to ``path`` through a temporary file and ``os.replace``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(json.dumps(_jsonable(data), indent=1, default=str), encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


class ProgressWriter:
    """Writes ``progress.json`` (throttled while running, always on epoch ends and status changes)."""

    def __init__(self, run_dir: Path | None, total: int, epochs: int, min_interval_s: float = 0.5):
        self.path = run_dir / "progress.json" if run_dir is not None else None
        self.total = total
        self.epochs = epochs
        self.min_interval_s = min_interval_s
        self._last = 0.0
        self._t0 = time.monotonic()
        self._done0: int | None = None

    def update(
        self, done: int, epoch: int, status: str = "running", error: str | None = None, force: bool = False
    ) -> None:
        """Record ``done`` of ``total`` steps; the ETA uses the rate of this process only."""
        if self.path is None:
            return
        now = time.monotonic()
        if self._done0 is None:
            self._done0, self._t0 = done, now
        if not force and status == "running" and now - self._last < self.min_interval_s:
            return
        self._last = now
        rate_done = done - self._done0
        eta = (now - self._t0) / rate_done * (self.total - done) if rate_done > 0 else None
        data = {
            "done": done,
            "total": self.total,
            "epoch": epoch,
            "epochs": self.epochs,
            "status": status,
            "eta_s": round(eta, 1) if eta is not None and status == "running" else None,
            "error": error,
            "updated": time.time(),
        }
        write_json_atomic(self.path, data)


def write_metrics(path: Path, rows: list[dict[str, Any]]) -> None:
    """Rewrite ``metrics.jsonl`` with ``rows`` atomically (used on resume to drop epochs after the checkpoint)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text("".join(json.dumps(_jsonable(r)) + "\n" for r in rows), encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def append_metrics(path: Path, row: Mapping[str, Any]) -> None:
    """Append one JSON line; a kill mid-write leaves one cut line that readers skip."""
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(_jsonable(row)) + "\n")
        fh.flush()


def rng_state() -> dict[str, Any]:
    """Every RNG's state as tensors and primitives only, so ``torch.load(weights_only=True)`` can read it."""
    np_state: Any = np.random.get_state()
    py_state = random.getstate()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "keys": torch.from_numpy(np.asarray(np_state[1], dtype=np.int64)),
            "pos": int(np_state[2]),
            "has_gauss": int(np_state[3]),
            "cached_gaussian": float(np_state[4]),
        },
        "python": {"version": int(py_state[0]), "state": list(py_state[1]), "gauss": py_state[2]},
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: Mapping[str, Any]) -> None:
    """Restore what :func:`rng_state` captured."""
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state(
        ("MT19937", n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached_gaussian"])
    )
    p = state["python"]
    random.setstate((p["version"], tuple(p["state"]), p["gauss"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint_atomic(path: Path, payload: Mapping[str, Any]) -> None:
    """``torch.save`` to a temporary file beside ``path``, then ``os.replace``: a kill keeps the old file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        torch.save(dict(payload), tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def load_run_checkpoint(path: Path) -> dict[str, Any]:
    """Load a run checkpoint on CPU with ``weights_only=True``.

    Raises:
        CheckpointError: The file is unreadable or not a run checkpoint (delete it or set resume=false).
    """
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many types for a corrupt or foreign file
        raise CheckpointError(
            f"cannot read the run checkpoint ({type(e).__name__}: {e}); delete it or train with resume=false",
            path=path,
        ) from e
    if not isinstance(data, dict) or "model" not in data or "epoch" not in data:
        raise CheckpointError(
            "not a training-run checkpoint (no 'model'/'epoch'); delete it or train with resume=false",
            path=path,
        )
    return data
