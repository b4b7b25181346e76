"""The project's typed error hierarchy.

Every error a user can cause derives from :class:`FvwError` and carries a message that says what to do.
Core raises these; the apps turn them into ``st.error`` / ``gr.Error``. Core never raises UI types.
Wrap lower-level exceptions with ``raise SomeError(...) from e`` and name the file and field involved.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

__all__ = [
    "FvwError",
    "ConfigError",
    "InputError",
    "ImageReadError",
    "ImageTooLargeError",
    "AnnotationError",
    "PathEscapeError",
    "CheckpointError",
    "DatasetError",
    "CatalogError",
    "CatalogImportError",
    "NoScrewFoundError",
    "NoCoinFoundError",
    "DeviceError",
    "JobError",
    "cli_exit",
]


class FvwError(Exception):
    """Base class of every error this project raises on purpose."""

    def __init__(self, message: str, *, path: str | Path | None = None, field: str | None = None):
        self.path = str(path) if path is not None else None
        self.field = field
        where = []
        if self.path:
            where.append(f"file {self.path}")
        if field:
            where.append(f"field {field!r}")
        full = f"{message} ({', '.join(where)})" if where else message
        super().__init__(full)
        self.message = message


class ConfigError(FvwError):
    """A configuration value is missing, unknown or out of range."""


class InputError(FvwError):
    """A user-supplied value is invalid (wrong type, shape, range)."""


class ImageReadError(InputError):
    """A file could not be read as an image (corrupt, truncated, unsupported format)."""


class ImageTooLargeError(ImageReadError):
    """An image exceeds the pixel limit (decompression-bomb guard)."""


class AnnotationError(FvwError):
    """A labelme JSON file is malformed or inconsistent."""


class PathEscapeError(AnnotationError):
    """A path inside an annotation points outside the dataset's root folder."""


class CheckpointError(FvwError):
    """A checkpoint file is missing, unreadable, or does not match the model."""


class DatasetError(FvwError):
    """A dataset folder is missing, empty, or unusable for the requested task."""


class CatalogError(FvwError):
    """The SKU catalog is missing or inconsistent."""


class CatalogImportError(CatalogError):
    """A user's catalog CSV has invalid rows; ``row_errors`` lists (row number, message)."""

    def __init__(self, message: str, row_errors: list[tuple[int, str]], *, path: str | Path | None = None):
        self.row_errors = row_errors
        detail = "; ".join(f"row {r}: {m}" for r, m in row_errors[:20])
        more = f" (+{len(row_errors) - 20} more)" if len(row_errors) > 20 else ""
        super().__init__(f"{message}: {detail}{more}", path=path)


class NoScrewFoundError(InputError):
    """The photo contains no detectable screw."""


class NoCoinFoundError(InputError):
    """The photo contains no detectable coin (measurement unavailable)."""


class DeviceError(ConfigError):
    """The requested compute device is not available."""


class JobError(FvwError):
    """A background training job failed or could not be started."""


def cli_exit(main: Callable[[list[str] | None], int], argv: list[str] | None = None) -> int:
    """Run a command line's ``main(argv)``; an :class:`FvwError` becomes one line on stderr and exit code 2
    instead of a traceback."""
    import sys

    try:
        return main(argv)
    except FvwError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
