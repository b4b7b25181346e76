"""The validation studies' own arithmetic (their pipeline runs are too slow for the suite)."""

from __future__ import annotations

import numpy as np
import pytest


def test_fit_temperature_recovers_the_temperature_labels_were_drawn_at():
    from bench.ranking_study import fit_temperature, softmax

    rng = np.random.default_rng(0)
    z = rng.normal(0, 3, (4000, 6))
    p = softmax(z, 2.0)
    y = np.array([rng.choice(6, p=row) for row in p])
    assert fit_temperature(z, y) == pytest.approx(2.0, rel=0.1)


def test_catalog_allowance_is_zero_for_countersunk_heads():
    from bench.ranking_study import catalog_allowance
    from core.catalog.geometry import HEAD_GEOMETRY
    from core.catalog.taxonomy import HEADS

    a = catalog_allowance()
    assert a.shape == (len(HEADS),)
    for h, v in zip(HEADS, a, strict=True):
        if HEAD_GEOMETRY[h].countersunk:
            assert v == 0.0
        else:
            assert v > 0.0


def test_studies_refuse_the_held_out_seed():
    from bench import blob_choice, ranking_study

    with pytest.raises(SystemExit) as e:
        ranking_study.main(["collect", "--seed", "4000000", "--n", "1"])
    assert e.value.code == 2
    with pytest.raises(SystemExit) as e:
        blob_choice.main(["--seed", "4000000", "--n", "1"])
    assert e.value.code == 2


def test_blob_rules_pick_the_true_screw_from_a_cache(tmp_path, capsys):
    import json

    from bench import blob_choice

    photos = [
        [
            {"area": 2000, "mean_prob": 0.95, "aspect": 5, "iou": 0.9},
            {"area": 30, "mean_prob": 0.99, "aspect": 2, "iou": 0.0},
        ],
        [{"area": 500, "mean_prob": 0.9, "aspect": 4, "iou": 0.8}],
        [],
        # a validation photo (seed 4,600,000, #184): the whole screw and two confident bits of its head
        [
            {"area": 42877, "mean_prob": 0.649, "aspect": 6, "iou": 0.97, "verify": 0.59},
            {"area": 750, "mean_prob": 0.799, "aspect": 2, "iou": 0.02, "verify": 0.85},
            {"area": 337, "mean_prob": 0.936, "aspect": 2, "iou": 0.01, "verify": 0.86},
        ],
    ]
    f = tmp_path / "blobs.json"
    f.write_text(json.dumps(photos))
    assert blob_choice.main(["--cache", str(f)]) == 0
    out = capsys.readouterr().out
    assert "| mean probability (until session 6) | 1 / 3 | 0 / 2 |" in out
    assert "| mean probability^16 x sqrt(area) (shipped sessions 6-14) | 2 / 3 | 1 / 2 |" in out
    assert "| mean probability^8 x area (shipped since session 15) | 3 / 3 | 2 / 2 |" in out


def test_upside_down_mixture_rescues_a_screw_read_at_the_wrong_end():
    """A cache where the classifiers are sure of the TRUE SKU only on the cuts turned by 180 degrees (head up they
    are unsure and lean to another): the plain score misses it, the mixture with a prior of upside down ranks it
    first; a photo without a screw is a miss."""
    from bench.ranking_study import _catalog, upside_down_figures
    from core.catalog.taxonomy import ATTRIBUTE_NAMES, values_of

    cat = _catalog()
    row = 123
    cache: dict[str, np.ndarray] = {"found": np.array([True, False]), "sku_row": np.array([row, row])}
    for a in ATTRIBUTE_NAMES:
        c = len(values_of(a))
        true = int(getattr(cat, f"{a}_idx")[row])
        right = np.full(c, -5.0, np.float32)
        right[true] = 5.0
        wrong = np.zeros(c, np.float32)  # the head-up reading: unsure, leaning to another SKU
        wrong[(true + 1) % c] = 1.0
        for v in ("gc", "gc_flip"):
            cache[f"logits/{v}/{a}"] = np.stack([wrong, np.full(c, np.nan, np.float32)])
            cache[f"logits/{v[:2]}_r180{v[2:]}/{a}"] = np.stack([right, np.full(c, np.nan, np.float32)])
    for k in ("length_mm", "length_mm_std", "diameter_mm", "diameter_mm_std", "overall_length_mm"):
        cache[f"size/gc/{k}"] = np.full(2, np.nan)
    cache["size/gc/overall_length_mm_std"] = np.full(2, np.nan)
    rows = upside_down_figures(cache, priors=(0.0, 0.2))
    assert rows[0] == {"prior": 0.0, "top1": 0.0, "top5": 0.0}
    assert rows[1] == {"prior": 0.2, "top1": 0.5, "top5": 0.5}


def test_search_latency_times_each_setting_over_the_photos(capsys):
    from bench import search_latency

    with pytest.raises(SystemExit) as e:
        search_latency.main(["--n", "0"])
    assert e.value.code == 2
    assert search_latency.main(["--n", "1", "--max-pixels", "0", "50000", "--view-reaches", "0"]) == 0
    rows = [r for r in capsys.readouterr().out.splitlines() if r.startswith("| ") and "ms" not in r]
    assert len(rows) == 4  # two box limits x (the engine's cuts, + reach 0)
    assert rows[0].startswith("| 0 | none |") and rows[3].startswith("| 50,000 | (0.0,) |")


@pytest.mark.slow
def test_collect_keeps_rotated_views_when_asked(tmp_path):
    """``--rot-tta`` adds the main cut turned by +-D degrees as views the report lists with the extra cuts."""
    from bench.ranking_study import collect

    out = collect(4_500_000, 1, out=tmp_path / "c.npz", rot_tta=4.0)
    cache = dict(np.load(out))
    for v in ("gc_vrot+4", "gc_vrot-4", "gc_vrot+4_flip"):
        assert cache[f"logits/{v}/head"].shape == cache["logits/gc/head"].shape


def test_ranking_study_set_parses_locate_settings_and_names_a_bad_one():
    from bench.ranking_study import locate_overrides
    from core.errors import ConfigError

    assert locate_overrides(["symmetry_below=1.5", "use_edgenet=false", "edgenet_views=4"]) == {
        "symmetry_below": 1.5,
        "use_edgenet": False,
        "edgenet_views": 4,
    }
    for bad, field in (
        ("nope=1", "nope"),
        ("symmetry_below", "symmetry_below"),
        ("edgenet_views=x", "edgenet_views"),
    ):
        with pytest.raises(ConfigError) as e:
            locate_overrides([bad])
        assert e.value.field == field
    with pytest.raises(ConfigError, match="edgenet_views"):
        locate_overrides(["edgenet_views=3"])  # parses, but the config refuses it
