"""Fastener Vision Workbench core library.

Importing ``core`` is cheap: no weights, no GPU work, no UI toolkits. Subpackages are imported on demand.
"""

from __future__ import annotations

__all__ = ["__version__"]
__version__ = "0.1.0"
