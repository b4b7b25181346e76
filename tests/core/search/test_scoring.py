"""Catalog scoring: hand-computed log-sums, floors, size likelihood, ranking and bad inputs."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest

from core.catalog.taxonomy import ATTRIBUTES
from core.errors import InputError
from core.search import ScoringConfig, SizeMeasurement, score_catalog, top_k


@dataclass
class _Cat:
    ids: list[str]
    head_idx: np.ndarray
    finish_idx: np.ndarray
    tip_idx: np.ndarray
    thread_idx: np.ndarray
    length_mm: np.ndarray
    diameter_mm: np.ndarray


def _cat() -> _Cat:
    return _Cat(
        ids=["A", "B", "C"],
        head_idx=np.array([0, 1, 0]),
        finish_idx=np.array([0, 0, 2]),
        tip_idx=np.array([0, 0, 0]),
        thread_idx=np.array([0, 1, 0]),
        length_mm=np.array([20.0, 20.0, 40.0]),
        diameter_mm=np.array([4.0, 4.0, 5.0]),
    )


def _uniform(name: str) -> np.ndarray:
    n = len(ATTRIBUTES[name])
    return np.full(n, 1.0 / n)


def test_log_sum_is_hand_computed():
    head = _uniform("head") * 0
    head[0], head[1] = 0.7, 0.3
    thread = np.zeros(4)
    thread[0], thread[1] = 0.9, 0.1
    s = score_catalog(_cat(), {"head": head, "thread": thread}, config=ScoringConfig(floor=1e-4))
    assert s[0] == pytest.approx(math.log(0.7) + math.log(0.9))
    assert s[1] == pytest.approx(math.log(0.3) + math.log(0.1))
    assert s[2] == pytest.approx(math.log(0.7) + math.log(0.9))


def test_floor_prevents_minus_infinity_and_ties_are_broken_by_other_evidence():
    head = np.zeros(len(ATTRIBUTES["head"]))
    head[1] = 1.0  # zero probability for head 0 must cost log(floor), not -inf
    s = score_catalog(_cat(), {"head": head}, config=ScoringConfig(floor=1e-3))
    assert np.all(np.isfinite(s))
    assert s[0] == pytest.approx(math.log(1e-3))
    # 12 attributes' worth of tiny probabilities do not underflow
    tiny = {k: np.full(len(v), 1e-30) for k, v in ATTRIBUTES.items()}
    assert np.all(np.isfinite(score_catalog(_cat(), tiny)))


def test_size_likelihood_prefers_the_measured_length():
    probs = {k: _uniform(k) for k in ATTRIBUTES}
    gauss = ScoringConfig(rel_sigma=0.05, outlier_share=0.0)
    s = score_catalog(_cat(), probs, length=SizeMeasurement(39.0, 0.5), config=gauss)
    assert s[2] > s[0]
    var = 0.5**2 + (0.05 * 40.0) ** 2
    base = sum(math.log(1.0 / len(v)) for v in ATTRIBUTES.values())
    assert s[2] == pytest.approx(base - 0.5 * ((39.0 - 40.0) ** 2 / var + math.log(var)))
    # The default size density is a contaminated Gaussian: (1 - e) N(sigma) + e N(k sigma), up to a constant.
    cfg = ScoringConfig(rel_sigma=0.05, outlier_share=0.2, outlier_scale=3.0)
    s = score_catalog(_cat(), probs, length=SizeMeasurement(39.0, 0.5), config=cfg)

    def mix(x: float, nominal: float) -> float:
        v = 0.5**2 + (0.05 * nominal) ** 2
        d2 = (x - nominal) ** 2
        return math.log(
            0.8 * math.exp(-0.5 * d2 / v) / math.sqrt(v)
            + 0.2 * math.exp(-0.5 * d2 / (9 * v)) / (3 * math.sqrt(v))
        )

    assert s[2] - s[0] == pytest.approx(mix(39.0, 40.0) - mix(39.0, 20.0), rel=1e-5)
    # Far off (a bad mask): the wide part keeps the cost finite and much smaller than one Gaussian's.
    far = score_catalog(_cat(), probs, length=SizeMeasurement(80.0, 0.5), config=cfg)
    far_g = score_catalog(_cat(), probs, length=SizeMeasurement(80.0, 0.5), config=gauss)
    assert np.all(np.isfinite(far)) and far[2] - far[0] == pytest.approx(
        mix(80.0, 40.0) - mix(80.0, 20.0), rel=1e-4
    )
    assert base - far[0] < 0.3 * (base - far_g[0])
    # An unavailable measurement (no coin) adds nothing.
    s0 = score_catalog(_cat(), probs, length=SizeMeasurement(None))
    assert np.allclose(s0, base)


def test_top_k_order_and_breakdown():
    head = np.zeros(len(ATTRIBUTES["head"]))
    head[0], head[1] = 0.2, 0.8
    res = top_k(_cat(), {"head": head}, k=2)
    assert [m.sku for m in res] == ["B", "A"]
    assert res[0].attributes["head"] == (ATTRIBUTES["head"][1], pytest.approx(0.8))
    js = res[0].to_json()
    assert js["sku"] == "B" and js["attributes"]["head"][0] == ATTRIBUTES["head"][1]
    assert len(top_k(_cat(), {"head": head}, k=50)) == 3


@pytest.mark.parametrize(
    "probs",
    [
        {"colour": np.ones(3)},
        {"head": np.ones(5)},
        {"head": np.full(32, np.nan)},
        {"tip": -np.ones(12)},
    ],
)
def test_bad_probabilities_are_refused(probs):
    with pytest.raises(InputError):
        score_catalog(_cat(), probs)


def test_bad_k_and_config():
    with pytest.raises(InputError):
        top_k(_cat(), {}, k=0)
    with pytest.raises(InputError):
        ScoringConfig(floor=0.0)
    with pytest.raises(InputError, match="outlier_share"):
        ScoringConfig(outlier_share=1.0)
    with pytest.raises(InputError, match="outlier_scale"):
        ScoringConfig(outlier_scale=0.5)


def test_vectorised_over_a_large_catalog_is_fast():
    import time

    rng = np.random.default_rng(0)
    n = 1_000_000
    cat = _Cat(
        ids=[f"S{i}" for i in range(0)],
        head_idx=rng.integers(0, 32, n),
        finish_idx=rng.integers(0, 15, n),
        tip_idx=rng.integers(0, 12, n),
        thread_idx=rng.integers(0, 4, n),
        length_mm=rng.uniform(5, 100, n),
        diameter_mm=rng.uniform(2, 12, n),
    )
    probs = {k: rng.dirichlet(np.ones(len(v))) for k, v in ATTRIBUTES.items()}
    times = []
    for _ in range(3):
        t = time.perf_counter()
        s = score_catalog(cat, probs, SizeMeasurement(30.0, 0.5), SizeMeasurement(4.0, 0.1))
        times.append(time.perf_counter() - t)
    assert s.shape == (n,)
    # Generous bound for a shared CI machine; bench/ reports the real median.
    assert min(times) < 0.5


def test_overall_length_is_scored_against_nominal_plus_head_allowance():
    """A and B share nominal length and diameter but not the head: the overall length tells them apart."""
    probs = {k: _uniform(k) for k in ATTRIBUTES}
    allowance = [0.0] * len(ATTRIBUTES["head"])
    allowance[1] = 1.0  # head 1 (SKU B) adds one diameter (4 mm) to the 20 mm nominal length
    cfg = ScoringConfig(head_allowance=tuple(allowance), rel_sigma=0.02, outlier_share=0.0)
    s = score_catalog(_cat(), probs, config=cfg, overall=SizeMeasurement(24.0, 0.2))
    assert s[1] > s[0]
    var = 0.2**2 + (0.02 * 24.0) ** 2
    base = sum(math.log(1.0 / len(v)) for v in ATTRIBUTES.values())
    assert s[1] == pytest.approx(base - 0.5 * math.log(var))
    # Without the table (or without an overall measurement) the nominal length is scored, as before.
    assert np.allclose(
        score_catalog(_cat(), probs, length=SizeMeasurement(20.0, 0.2), overall=SizeMeasurement(24.0, 0.2)),
        score_catalog(_cat(), probs, length=SizeMeasurement(20.0, 0.2)),
    )
    s2 = score_catalog(
        _cat(), probs, length=SizeMeasurement(20.0, 0.2), config=cfg, overall=SizeMeasurement(None)
    )
    assert s2[0] == pytest.approx(s2[1])
    with pytest.raises(InputError, match="head_allowance"):
        ScoringConfig(head_allowance=(1.0, 2.0))
    with pytest.raises(InputError, match="head_allowance"):
        ScoringConfig(head_allowance=(float("nan"),) * len(ATTRIBUTES["head"]))
    # the loaded table (a numpy array) is taken as is and kept as a hashable tuple
    arr = np.linspace(0.0, 1.0, len(ATTRIBUTES["head"]))
    from_array = ScoringConfig(head_allowance=arr)
    assert from_array.head_allowance == tuple(float(a) for a in arr)
    assert hash(from_array) == hash(ScoringConfig(head_allowance=tuple(float(a) for a in arr)))
