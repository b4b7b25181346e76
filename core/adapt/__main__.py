"""``python -m core.adapt attributes --model ... --data ... --out ...``: see :mod:`core.adapt.cli`."""

from __future__ import annotations

import sys

from core.adapt.cli import main

if __name__ == "__main__":
    sys.exit(main())
