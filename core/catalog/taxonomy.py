"""The fastener taxonomy: the one source of truth for the four attributes and their values.

Every model head, catalog column, labelme flag and UI label takes its vocabulary from here. Values are
stable snake_case keys (stored in JSON and SQLite); :func:`display_name` gives the trade name shown to
people. Appending values is safe; reordering or renaming breaks shipped checkpoints, whose class order
is the order below.
"""

from __future__ import annotations

from typing import Final, Literal

from core.errors import InputError

__all__ = [
    "AttributeName",
    "ATTRIBUTE_NAMES",
    "HEADS",
    "FINISHES",
    "TIPS",
    "THREADS",
    "ATTRIBUTES",
    "DESCRIPTIONS",
    "display_name",
    "index_of",
    "values_of",
    "validate_value",
]

AttributeName = Literal["head", "finish", "tip", "thread"]
ATTRIBUTE_NAMES: Final[tuple[AttributeName, ...]] = ("head", "finish", "tip", "thread")

# 32 head types, seen from above as the screw lies on its side.
HEADS: Final[tuple[str, ...]] = (
    "flat",  # countersunk, 82/90 deg, flat top
    "oval",  # raised countersunk
    "pan",
    "round",
    "truss",  # wide, low dome ("mushroom"-like, larger than pan)
    "button",
    "hex",
    "hex_washer",
    "flanged_hex",
    "socket_cap",  # cylindrical, hex socket
    "low_socket",  # low-head socket cap
    "binding",
    "fillister",
    "cheese",
    "bugle",  # drywall bugle head
    "trim",  # small-diameter countersunk trim head
    "wafer",  # very flat, wide
    "carriage",  # dome with square neck
    "t_head",
    "wing",
    "eye",  # eye / ring
    "thumb",
    "knurled",  # knurled thumb head
    "shoulder",  # shoulder screw: socket head over a ground shoulder
    "square",
    "flat_socket",  # countersunk socket head
    "button_socket",
    "twelve_point",  # 12-point flange head
    "pancake",
    "mushroom",
    "sems_pan",  # pan head with a captive washer
    "flange_button",
)

# 15 finishes / materials.
FINISHES: Final[tuple[str, ...]] = (
    "zinc",  # clear / blue-white zinc plating
    "yellow_zinc",
    "black_oxide",
    "plain_steel",
    "stainless",
    "brass",
    "bronze",
    "chrome",
    "nickel",
    "hot_dip_galvanized",
    "copper",
    "black_phosphate",
    "ceramic_coated",
    "black_zinc",
    "painted_white",
)

# 12 tip (point) types.
TIPS: Final[tuple[str, ...]] = (
    "sharp",  # gimlet point
    "blunt",
    "self_drilling",  # drill point (TEK)
    "type_17",  # notched auger point
    "cone",
    "flat",
    "dog_point",
    "cup_point",
    "oval_point",
    "needle",  # very fine drywall needle point
    "half_dog_point",
    "type_f",  # thread-cutting slots, blunt
)

# 4 thread coverages: fraction of the shank that carries thread.
THREADS: Final[tuple[str, ...]] = (
    "full",  # thread all the way to the head
    "partial",  # about two thirds threaded
    "short",  # about one third threaded
    "unthreaded_shank",  # plain shank, thread only at the very end (or none)
)

ATTRIBUTES: Final[dict[AttributeName, tuple[str, ...]]] = {
    "head": HEADS,
    "finish": FINISHES,
    "tip": TIPS,
    "thread": THREADS,
}

DESCRIPTIONS: Final[dict[str, str]] = {
    "flat": "Flat (countersunk)",
    "oval": "Oval (raised countersunk)",
    "hex_washer": "Hex washer",
    "flanged_hex": "Flanged hex",
    "socket_cap": "Socket cap",
    "low_socket": "Low socket cap",
    "t_head": "T-head",
    "eye": "Eye / ring",
    "flat_socket": "Flat socket (countersunk)",
    "button_socket": "Button socket",
    "twelve_point": "12-point flange",
    "sems_pan": "SEMS pan (captive washer)",
    "flange_button": "Flange button",
    "yellow_zinc": "Yellow zinc",
    "black_oxide": "Black oxide",
    "plain_steel": "Plain steel",
    "stainless": "Stainless steel",
    "hot_dip_galvanized": "Hot-dip galvanized",
    "black_phosphate": "Black phosphate",
    "ceramic_coated": "Ceramic coated",
    "black_zinc": "Black zinc",
    "painted_white": "Painted white",
    "sharp": "Sharp (gimlet)",
    "self_drilling": "Self-drilling",
    "type_17": "Type 17",
    "dog_point": "Dog point",
    "cup_point": "Cup point",
    "oval_point": "Oval point",
    "half_dog_point": "Half-dog point",
    "type_f": "Type F (thread cutting)",
    "full": "Fully threaded",
    "partial": "Partially threaded",
    "short": "Short thread",
    "unthreaded_shank": "Unthreaded shank",
}


def values_of(attribute: str) -> tuple[str, ...]:
    """The ordered values of an attribute; raises :class:`InputError` listing valid attributes."""
    try:
        return ATTRIBUTES[attribute]  # type: ignore[index]
    except KeyError:
        raise InputError(
            f"unknown attribute {attribute!r}; valid attributes: {', '.join(ATTRIBUTE_NAMES)}"
        ) from None


def validate_value(attribute: str, value: str) -> str:
    """Return ``value`` if it belongs to ``attribute``; otherwise raise an error listing valid values."""
    vals = values_of(attribute)
    if value not in vals:
        raise InputError(
            f"unknown {attribute} value {value!r}; valid values: {', '.join(vals)}", field=attribute
        )
    return value


def index_of(attribute: str, value: str) -> int:
    """Class index of ``value`` within ``attribute`` (the order models are trained with)."""
    return values_of(attribute).index(validate_value(attribute, value))


def display_name(value: str) -> str:
    """Human trade name of a taxonomy value (``hex_washer`` -> ``Hex washer``)."""
    return DESCRIPTIONS.get(value, value.replace("_", " ").capitalize())


assert len(HEADS) == 32 and len(FINISHES) == 15 and len(TIPS) == 12 and len(THREADS) == 4
assert all(len(set(v)) == len(v) for v in ATTRIBUTES.values())
