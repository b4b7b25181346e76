"""Benchmarks: ``python -m bench`` runs every ``bench/bench_*.py`` module and rewrites bench/RESULTS.md.

See :mod:`bench.harness` for the registration API. Importing this package is cheap.
"""

from __future__ import annotations

from bench.harness import register_figures, register_timing

__all__ = ["register_figures", "register_timing"]
