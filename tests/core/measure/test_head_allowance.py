"""Head allowance: fitted medians, the file round trip, bad files, and the expected overall length."""

from __future__ import annotations

import json

import numpy as np
import pytest

from core.catalog.taxonomy import HEADS
from core.errors import CheckpointError
from core.measure.head_allowance import (
    expected_overall_mm,
    fit_head_allowance,
    load_head_allowance,
    save_head_allowance,
)


def test_fit_is_the_median_per_head_with_a_fallback_for_rare_heads():
    rng = np.random.default_rng(0)
    n = 60
    head = np.r_[np.zeros(n // 2, int), np.ones(n // 2, int), [2, 2]]  # head 2: too few screws
    d = rng.uniform(2, 10, head.size)
    nominal = rng.uniform(5, 80, head.size)
    true_a = np.array([0.7, 0.0, 3.0])[head]
    overall = nominal + true_a * d
    overall[0] = np.nan  # an unmeasured screw is skipped
    overall[1] += 50.0  # one outlier does not move a median
    a, counts = fit_head_allowance(overall, nominal, d, head, min_count=5)
    assert a.shape == (len(HEADS),)
    assert a[0] == pytest.approx(0.7, abs=1e-9) and a[1] == pytest.approx(0.0, abs=1e-9)
    assert counts[0] == n // 2 - 1 and counts[2] == 2
    # head 2 and the unseen heads fall back to the median over all screws
    fallback = float(np.median(((overall - nominal) / d)[1:]))
    assert a[2] == pytest.approx(fallback) and a[31] == pytest.approx(fallback)


def test_file_round_trip_and_bad_files(tmp_path):
    a = np.linspace(-0.5, 2.0, len(HEADS))
    p = save_head_allowance(tmp_path / "m" / "head_allowance.json", a, np.arange(len(HEADS)), "test")
    assert np.allclose(load_head_allowance(p), np.round(a, 4))
    assert load_head_allowance(tmp_path / "missing.json") is None
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(CheckpointError, match="head_allowance"):
        load_head_allowance(bad)
    doc = json.loads(p.read_text())
    del doc["allowance"][HEADS[3]]
    bad.write_text(json.dumps(doc))
    with pytest.raises(CheckpointError, match=HEADS[3]):
        load_head_allowance(bad)
    doc["allowance"][HEADS[3]] = 1e6
    bad.write_text(json.dumps(doc))
    with pytest.raises(CheckpointError, match="20 diameters"):
        load_head_allowance(bad)


def test_expected_overall_is_nominal_plus_allowance_times_diameter():
    a = np.zeros(len(HEADS))
    a[1] = 0.5
    out = expected_overall_mm(np.array([20.0, 20.0]), np.array([4.0, 6.0]), np.array([0, 1]), a)
    assert out.tolist() == [20.0, 23.0]


def test_nominal_from_overall_weighs_the_head_types_allowances():
    from core.errors import InputError
    from core.measure.head_allowance import nominal_from_overall

    allowance = np.array([0.0, 1.0, 3.0])
    # Sure of head 1: overall 100 px minus 1 diameter (10 px), no spread.
    assert nominal_from_overall(100.0, 10.0, np.array([0.0, 1.0, 0.0]), allowance) == (90.0, 0.0)
    # Half countersunk (0 d), half 1 d: mean 0.5 d, sd 0.5 d; unnormalised probabilities are normalised.
    nominal, sd = nominal_from_overall(100.0, 10.0, np.array([2.0, 2.0, 0.0]), allowance)
    assert nominal == pytest.approx(95.0) and sd == pytest.approx(5.0)
    with pytest.raises(InputError, match="3 head allowances"):
        nominal_from_overall(100.0, 10.0, np.ones(4), allowance)
    with pytest.raises(InputError, match=">= 0"):
        nominal_from_overall(100.0, 10.0, np.array([1.0, -0.5, 0.5]), allowance)
    with pytest.raises(InputError, match="positive sum"):
        nominal_from_overall(100.0, 10.0, np.zeros(3), allowance)
