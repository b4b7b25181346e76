"""The simulated user's clicks."""

from __future__ import annotations

import numpy as np
import pytest

from core.errors import InputError
from core.interactive.clicks import first_click, next_click


def test_first_click_is_the_innermost_pixel_centre():
    gt = np.zeros((20, 30), bool)
    gt[5:15, 2:28] = True  # 10 rows x 26 columns: the middle row 9 or 10, a middle column
    x, y = first_click(gt)
    assert x % 1 == 0.5 and y % 1 == 0.5 and gt[int(y), int(x)]
    assert 9 <= int(y) <= 10 and 6 <= int(x) <= 23
    assert next_click(np.zeros_like(gt), gt) == ((int(x), int(y)), 1)
    with pytest.raises(InputError, match="empty"):
        first_click(np.zeros_like(gt))
