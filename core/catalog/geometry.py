"""Nominal head geometry per head type, shared by the catalog (short screws) and the photo studio.

Ratios are relative to the nominal shank diameter ``d`` and follow the usual ISO/ASME proportions
closely enough for a photo to look right; they are not a manufacturing reference.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from core.catalog.taxonomy import HEADS

__all__ = ["HeadGeometry", "HEAD_GEOMETRY", "head_geometry", "thread_fraction", "THREAD_FRACTION"]

Drive = Literal["slot", "cross", "hex_socket", "none", "square"]


@dataclass(frozen=True)
class HeadGeometry:
    """Proportions of one head type.

    Attributes:
        diameter: head diameter / shank diameter.
        height: head height / shank diameter.
        countersunk: True when the head sits inside the nominal length (flat, oval, bugle, ...).
        drive: the drive recess drawn on the head's top.
    """

    diameter: float
    height: float
    countersunk: bool = False
    drive: Drive = "cross"


HEAD_GEOMETRY: Final[dict[str, HeadGeometry]] = {
    "flat": HeadGeometry(2.0, 0.55, True, "cross"),
    "oval": HeadGeometry(2.0, 0.75, True, "cross"),
    "pan": HeadGeometry(2.0, 0.7, False, "cross"),
    "round": HeadGeometry(1.9, 0.75, False, "slot"),
    "truss": HeadGeometry(2.6, 0.55, False, "cross"),
    "button": HeadGeometry(1.8, 0.55, False, "cross"),
    "hex": HeadGeometry(1.7, 0.7, False, "none"),
    "hex_washer": HeadGeometry(2.2, 0.8, False, "none"),
    "flanged_hex": HeadGeometry(2.2, 0.85, False, "none"),
    "socket_cap": HeadGeometry(1.5, 1.0, False, "hex_socket"),
    "low_socket": HeadGeometry(1.5, 0.6, False, "hex_socket"),
    "binding": HeadGeometry(2.1, 0.6, False, "slot"),
    "fillister": HeadGeometry(1.6, 0.9, False, "slot"),
    "cheese": HeadGeometry(1.6, 0.65, False, "slot"),
    "bugle": HeadGeometry(2.1, 0.65, True, "cross"),
    "trim": HeadGeometry(1.35, 0.4, True, "square"),
    "wafer": HeadGeometry(2.5, 0.3, False, "cross"),
    "carriage": HeadGeometry(2.2, 0.55, False, "none"),
    "t_head": HeadGeometry(3.0, 0.45, False, "none"),
    "wing": HeadGeometry(3.6, 1.3, False, "none"),
    "eye": HeadGeometry(2.8, 2.8, False, "none"),
    "thumb": HeadGeometry(2.6, 0.9, False, "slot"),
    "knurled": HeadGeometry(2.4, 1.1, False, "none"),
    "shoulder": HeadGeometry(1.9, 0.9, False, "hex_socket"),
    "square": HeadGeometry(1.6, 0.7, False, "none"),
    "flat_socket": HeadGeometry(2.0, 0.6, True, "hex_socket"),
    "button_socket": HeadGeometry(1.8, 0.55, False, "hex_socket"),
    "twelve_point": HeadGeometry(1.8, 1.0, False, "none"),
    "pancake": HeadGeometry(2.4, 0.35, False, "cross"),
    "mushroom": HeadGeometry(2.7, 0.6, False, "slot"),
    "sems_pan": HeadGeometry(2.4, 0.8, False, "cross"),
    "flange_button": HeadGeometry(2.3, 0.6, False, "hex_socket"),
}

# Fraction of the shank (tip side) that carries thread, per thread coverage value.
THREAD_FRACTION: Final[dict[str, float]] = {
    "full": 1.0,
    "partial": 0.66,
    "short": 0.33,
    "unthreaded_shank": 0.12,
}

assert set(HEAD_GEOMETRY) == set(HEADS)


def head_geometry(head: str) -> HeadGeometry:
    """Proportions of ``head`` (a value of :data:`core.catalog.taxonomy.HEADS`)."""
    from core.catalog.taxonomy import validate_value

    return HEAD_GEOMETRY[validate_value("head", head)]


def thread_fraction(thread: str) -> float:
    """Threaded fraction of the shank for a thread coverage value."""
    from core.catalog.taxonomy import validate_value

    return THREAD_FRACTION[validate_value("thread", thread)]
