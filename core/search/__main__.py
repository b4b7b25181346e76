"""``python -m core.search photo.jpg [--top 10] [--json]``: see :mod:`core.search.cli`."""

from __future__ import annotations

import logging
import sys

from core.search.cli import main

if __name__ == "__main__":
    # Log lines go to stderr so that ``--json`` output on stdout stays parseable.
    logging.basicConfig(
        level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s"
    )
    sys.exit(main())
