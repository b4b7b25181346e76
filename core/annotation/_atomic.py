"""Atomic file writes: a failed save must leave the previous file intact."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

__all__ = ["atomic_write_text"]


def _write_all(fd: int, data: bytes) -> None:
    """Write every byte to ``fd`` (a separate function so tests can inject a failure mid-write)."""
    view = memoryview(data)
    while view:
        n = os.write(fd, view[:65536])
        view = view[n:]


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` via a temp file in the same folder and ``os.replace``.

    Readers see either the old file or the complete new one, never a partial write: the temp file is
    flushed to disk before it replaces the target, and removed if anything fails.

    Raises:
        OSError: the folder is not writable, the disk is full, or the write was interrupted.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        try:
            _write_all(fd, text.encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)
        if path.exists():
            # keep the permissions the user gave the file
            with contextlib.suppress(OSError):
                os.chmod(tmp, path.stat().st_mode & 0o777)
        else:
            os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
