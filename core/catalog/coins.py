"""Reference coins: the one table of coin names and diameters used by the studio, measurement and apps."""

from __future__ import annotations

from types import MappingProxyType
from typing import Final

from core.errors import InputError

__all__ = ["COINS", "DEFAULT_COIN", "coin_diameter_mm"]

#: Official diameters of common reference coins, in millimetres.
COINS: Final = MappingProxyType(
    {
        "euro_1": 23.25,
        "euro_2": 25.75,
        "euro_0.50": 24.25,
        "euro_0.20": 22.25,
        "euro_0.10": 19.75,
        "us_quarter": 24.26,
        "us_dime": 17.91,
        "us_penny": 19.05,
        "us_nickel": 21.21,
        "uk_pound": 23.43,
        "chf_1": 23.20,
    }
)
DEFAULT_COIN: Final[str] = "euro_1"


def coin_diameter_mm(name: str) -> float:
    """Diameter of a named coin; the error lists the valid names."""
    try:
        return COINS[name]
    except KeyError:
        raise InputError(f"unknown coin {name!r}; valid coins: {', '.join(COINS)}", field="coin") from None
