from __future__ import annotations

import pytest

from core.catalog import ATTRIBUTES, display_name, index_of, validate_value, values_of
from core.errors import InputError


def test_sizes_match_the_product_spec():
    assert {k: len(v) for k, v in ATTRIBUTES.items()} == {"head": 32, "finish": 15, "tip": 12, "thread": 4}


def test_index_and_validation():
    assert index_of("head", "flat") == 0
    assert values_of("thread")[index_of("thread", "partial")] == "partial"
    with pytest.raises(InputError, match="valid values: flat, oval"):
        validate_value("head", "pann")
    with pytest.raises(InputError, match="valid attributes: head, finish, tip, thread"):
        values_of("colour")


def test_display_names():
    assert display_name("hex_washer") == "Hex washer"
    assert display_name("pan") == "Pan"
