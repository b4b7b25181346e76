"""Rank catalog SKUs by how well they explain one photo.

The score of a SKU is a log-likelihood::

    score = sum_a log(max(p_a[value_a(SKU)], floor))              # attributes: head, finish, tip, thread
          + log N(length_mm; L_sku, sigma_L) + log N(diameter_mm; D_sku, sigma_D)   # when measured

(each size density a Gaussian with a wider share for measurements from bad masks, ``ScoringConfig``;
constants that are the same for every SKU are left out).

With a head-allowance table (``ScoringConfig.head_allowance``, :mod:`core.measure.head_allowance`) and a
measured OVERALL length, the length term compares that with each SKU's expected overall length
``L_sku + allowance[head_sku] * D_sku`` instead of comparing a nominal length read off the mask's head.

Summing floored logs rather than multiplying probabilities keeps 1e-30-ish products from underflowing to 0 and
ties; the floor stops one over-confident classifier from vetoing a SKU outright. Everything is vectorised
over the catalog (a few gathers and adds), so 15,000 SKUs take well under a millisecond and a million a few
tens of milliseconds on one CPU core.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from core.catalog.taxonomy import ATTRIBUTE_NAMES, ATTRIBUTES, values_of
from core.errors import InputError

__all__ = ["CatalogLike", "SizeMeasurement", "ScoringConfig", "Match", "score_catalog", "top_k"]


class CatalogLike(Protocol):
    """What scoring needs of a catalog: one entry per SKU in every array."""

    ids: Sequence[str] | NDArray[np.str_]
    head_idx: NDArray[np.integer]
    finish_idx: NDArray[np.integer]
    tip_idx: NDArray[np.integer]
    thread_idx: NDArray[np.integer]
    length_mm: NDArray[np.floating]
    diameter_mm: NDArray[np.floating]


@dataclass(frozen=True)
class SizeMeasurement:
    """A measured size in mm with its 1-sigma uncertainty (None when unavailable, e.g. no coin)."""

    value_mm: float | None
    sigma_mm: float = 0.0


@dataclass(frozen=True)
class ScoringConfig:
    """Knobs of the score.

    Attributes:
        floor: smallest probability used in the log (1e-4 -> one attribute can cost at most ~9.2 nats).
        rel_sigma: relative tolerance of the catalog's nominal size, added in quadrature to the measurement's
            own sigma (which holds the mask's error, ``core.locate.LocateConfig.size_rel_std``). Chosen on
            validation rankings (300 photos of seed 4,600,000 / 200 of 4,500,000), top-1 / top-5: the
            measurement's sigma alone (quantisation + scale, ~0.4 %) with 0.04 here: 0.317 / 0.420 and
            0.260 / 0.365; 0.12 here: 0.397 / 0.520 and 0.340 / 0.515; a 0.12 mask error in the measurement
            with 0.04 here: 0.410 / 0.530 and 0.340 / 0.545.
        size_weight: multiplies the size log-likelihood (0 ignores size).
        head_allowance: overall minus nominal length per head type (taxonomy order), in shank diameters (any
            sequence, kept as a tuple); None scores the nominal length.
        outlier_share, outlier_scale: each size term is a contaminated Gaussian, ``(1 - share) * N(sigma) +
            share * N(scale * sigma)``: a measurement from a bad mask (a lost head, a shadow) is far off more
            often than one Gaussian allows, and one such size should not push the right SKU out of the top 5.
            Validation (500 photos of seeds 4,500,000 / 4,600,000, `python -m bench.ranking_study`, session-9
            classifiers), SKU top-1 / top-5: a plain Gaussian (share 0) 0.816 / 0.892; share / scale 0.1 / 3
            0.830 / 0.898, **0.2 / 3 0.836 / 0.900**, 0.3 / 3 0.836 / 0.900, 0.2 / 4 0.830 / 0.900 (higher or
            equal on each stream and with the session-8 classifiers too: 0.806 / 0.892 -> 0.812 / 0.898).
    """

    floor: float = 1e-4
    rel_sigma: float = 0.04
    size_weight: float = 1.0
    head_allowance: Sequence[float] | NDArray[np.floating] | None = None
    outlier_share: float = 0.2
    outlier_scale: float = 3.0

    def __post_init__(self) -> None:
        if self.head_allowance is not None:
            # any sequence (e.g. load_head_allowance's array) -> a hashable tuple
            object.__setattr__(self, "head_allowance", tuple(float(a) for a in self.head_allowance))
        if not 0.0 < self.floor < 1.0:
            raise InputError(f"floor must be in (0, 1), got {self.floor}", field="floor")
        if self.rel_sigma <= 0:
            raise InputError(f"rel_sigma must be > 0, got {self.rel_sigma}", field="rel_sigma")
        if not 0.0 <= self.outlier_share < 1.0:
            raise InputError(
                f"outlier_share must be in [0, 1), got {self.outlier_share}", field="outlier_share"
            )
        if self.outlier_scale < 1.0:
            raise InputError(f"outlier_scale must be >= 1, got {self.outlier_scale}", field="outlier_scale")
        if self.head_allowance is not None and (
            len(self.head_allowance) != len(ATTRIBUTES["head"])
            or not all(np.isfinite(a) for a in self.head_allowance)
        ):
            raise InputError(
                f"head_allowance needs one finite number per head type ({len(ATTRIBUTES['head'])})",
                field="head_allowance",
            )


@dataclass(frozen=True)
class Match:
    """One ranked SKU with the evidence for it."""

    sku: str
    score: float
    attributes: dict[str, tuple[str, float]] = field(default_factory=dict)  # name -> (value, probability)
    length_mm: float = 0.0
    diameter_mm: float = 0.0

    def to_json(self) -> dict[str, object]:
        return {
            "sku": self.sku,
            "score": round(self.score, 4),
            "attributes": {k: [v, round(p, 4)] for k, (v, p) in self.attributes.items()},
            "length_mm": round(self.length_mm, 2),
            "diameter_mm": round(self.diameter_mm, 2),
        }


def _check_probs(probs: Mapping[str, NDArray[np.floating]]) -> dict[str, NDArray[np.float64]]:
    out: dict[str, NDArray[np.float64]] = {}
    for name in probs:
        if name not in ATTRIBUTES:
            raise InputError(f"unknown attribute {name!r}; valid: {', '.join(ATTRIBUTE_NAMES)}")
    for name in ATTRIBUTE_NAMES:
        if name not in probs:
            continue
        p = np.asarray(probs[name], np.float64).reshape(-1)
        n = len(ATTRIBUTES[name])
        if p.shape[0] != n:
            raise InputError(f"{name} probabilities have {p.shape[0]} entries, expected {n}", field=name)
        if not np.all(np.isfinite(p)) or np.any(p < 0):
            raise InputError(f"{name} probabilities must be finite and >= 0", field=name)
        out[name] = p
    return out


def _size_loglik(measured: SizeMeasurement | None, nominal: NDArray[np.floating], cfg: ScoringConfig):
    if measured is None or measured.value_mm is None:
        return 0.0
    if cfg.outlier_share == 0.0:
        nom = nominal.astype(np.float64, copy=False)
        var = measured.sigma_mm**2 + (cfg.rel_sigma * nom) ** 2  # (N,)
        # Gaussian log density; the log(var) term penalises the looser tolerance of large SKUs fairly.
        return -0.5 * ((measured.value_mm - nom) ** 2 / var + np.log(var))
    # Contaminated Gaussian (see ScoringConfig), in float32 with one exp per SKU (a million SKUs in ~2 ms):
    # log((1 - e) N(0, v) + e N(0, k^2 v)) = log(e / k + (1 - e) exp(-q (1 - 1 / k^2) / 2)) - q / (2 k^2)
    # - log(v) / 2 + const, q = (x - nominal)^2 / v; the exp may underflow to 0, the sum never does.
    f32 = np.float32
    nom32 = np.asarray(nominal, np.float32)
    v32 = f32(cfg.rel_sigma) * nom32
    v32 *= v32
    v32 += f32(measured.sigma_mm**2)
    q = f32(measured.value_mm) - nom32
    q *= q
    q /= v32
    e, k2 = cfg.outlier_share, cfg.outlier_scale**2
    mix = np.exp(f32(-0.5 * (1.0 - 1.0 / k2)) * q)
    mix *= f32(1.0 - e)
    mix += f32(e / cfg.outlier_scale)
    mix /= np.sqrt(v32)
    out = np.log(mix)
    out -= f32(0.5 / k2) * q
    return out


def score_catalog(
    catalog: CatalogLike,
    probs: Mapping[str, NDArray[np.floating]],
    length: SizeMeasurement | None = None,
    diameter: SizeMeasurement | None = None,
    config: ScoringConfig = ScoringConfig(),
    overall: SizeMeasurement | None = None,
) -> NDArray[np.float64]:
    """Score every SKU.

    Args:
        catalog: arrays of the catalog (see :class:`CatalogLike`).
        probs: attribute name -> class probabilities in taxonomy order; a missing attribute is not scored.
        length: measured screw length (optional).
        diameter: measured shank diameter (optional).
        config: floor and size tolerances.
        overall: measured overall length; used instead of ``length`` when ``config.head_allowance`` is set.

    Returns:
        (N,) float64 log-likelihood per SKU, higher is better.
    """
    checked = _check_probs(probs)
    n = len(catalog.length_mm)
    total = np.zeros(n, np.float64)
    for name, p in checked.items():
        logp = np.log(np.maximum(p, config.floor))  # (C,)
        total += logp[getattr(catalog, f"{name}_idx")]
    if config.size_weight:
        if config.head_allowance is not None and overall is not None and overall.value_mm is not None:
            from core.measure.head_allowance import expected_overall_mm

            expected = expected_overall_mm(
                catalog.length_mm, catalog.diameter_mm, catalog.head_idx, np.asarray(config.head_allowance)
            )
            total += config.size_weight * _size_loglik(overall, expected, config)
        else:
            total += config.size_weight * _size_loglik(length, catalog.length_mm, config)
        total += config.size_weight * _size_loglik(diameter, catalog.diameter_mm, config)
    return total


def top_k(
    catalog: CatalogLike,
    probs: Mapping[str, NDArray[np.floating]],
    k: int = 10,
    length: SizeMeasurement | None = None,
    diameter: SizeMeasurement | None = None,
    config: ScoringConfig = ScoringConfig(),
    overall: SizeMeasurement | None = None,
) -> list[Match]:
    """The ``k`` best SKUs, best first, each with its per-attribute breakdown."""
    if k < 1:
        raise InputError(f"k must be >= 1, got {k}", field="k")
    scores = score_catalog(catalog, probs, length, diameter, config, overall)
    k = min(k, scores.shape[0])
    idx = np.argpartition(-scores, k - 1)[:k] if k < scores.shape[0] else np.arange(scores.shape[0])
    idx = idx[np.argsort(-scores[idx], kind="stable")]
    checked = _check_probs(probs)
    out = []
    for i in (int(j) for j in idx):
        attrs = {}
        for name, p in checked.items():
            v = int(getattr(catalog, f"{name}_idx")[i])
            attrs[name] = (values_of(name)[v], float(p[v]))
        out.append(
            Match(
                sku=str(catalog.ids[i]),
                score=float(scores[i]),
                attributes=attrs,
                length_mm=float(catalog.length_mm[i]),
                diameter_mm=float(catalog.diameter_mm[i]),
            )
        )
    return out
