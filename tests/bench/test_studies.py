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
    ]
    f = tmp_path / "blobs.json"
    f.write_text(json.dumps(photos))
    assert blob_choice.main(["--cache", str(f)]) == 0
    out = capsys.readouterr().out
    assert "| mean probability (until session 6) | 1 / 2 | 0 / 1 |" in out
    assert "| mean probability^16 x sqrt(area) (shipped since session 6) | 2 / 2 | 1 / 1 |" in out
