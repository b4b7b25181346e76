"""Entry point of ``python -m core.train``."""

from __future__ import annotations

from core.train.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
