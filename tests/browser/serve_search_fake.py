"""Serve apps/search.py over the fake engine on a given port (for the browser test)."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "apps"))

from fake_search import FakeEngine  # noqa: E402

from apps.search import build_demo  # noqa: E402

if __name__ == "__main__":
    build_demo(FakeEngine()).launch(server_name="127.0.0.1", server_port=int(sys.argv[1]), quiet=True)
