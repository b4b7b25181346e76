"""``python -m bench [--only GROUP ...] [--quick] [--list] [--out PATH] [--threads N]``."""

from __future__ import annotations

from bench.harness import main

raise SystemExit(main())
