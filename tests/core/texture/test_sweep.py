from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from core.errors import CheckpointError, ConfigError, DatasetError
from core.texture.__main__ import main
from core.texture.results import find_sweeps, load_sweep
from core.texture.sweep import EfficiencyConfig, SweepConfig, run_efficiency, run_sweep


def _tiny_geirhos(root):
    """2 classes x 3 shape sources x 2 textures of 20 px images, plus silhouettes."""
    rng = np.random.default_rng(0)
    for c in ("bear", "cat"):
        for i in range(1, 4):
            for t in ("bear", "cat"):
                d = root / "cue-conflict" / c
                d.mkdir(parents=True, exist_ok=True)
                Image.fromarray(rng.integers(0, 255, (20, 20, 3), dtype=np.uint8)).save(
                    d / f"{c}{i}-{t}1.png"
                )
            s = root / "filled-silhouettes" / c
            s.mkdir(parents=True, exist_ok=True)
            Image.fromarray(np.full((20, 20), 255 * (i % 2), np.uint8)).save(s / f"{c}{i}.png")


def test_tiny_sweep_end_to_end_and_reading_back(tmp_path):
    _tiny_geirhos(tmp_path / "data")
    cfg = SweepConfig(data=str(tmp_path / "data"), out=str(tmp_path / "sw"), ks=(0.0, 1.0), seeds=(0,), size=16, epochs=1, batch_size=4, width=4)  # fmt: skip
    res = run_sweep(cfg, command="test")
    assert res["n_train"] + res["n_test"] == 12
    assert [r["model"] for r in res["table"]] == ["k=0.00", "k=1.00", "structure-layer", "texture-layer"]
    assert json.loads((tmp_path / "sw" / "progress.json").read_text())["status"] == "done"
    assert "| k=0.00 | 1 |" in (tmp_path / "sw" / "results.md").read_text()
    sweep = load_sweep(tmp_path / "sw")
    assert sweep.nearest_k(0.4) == 0.0 and sweep.nearest_k(0.5) == 0.0 and sweep.nearest_k(0.6) == 1.0
    k, ckpt = sweep.checkpoint_for_k(0.9)
    assert k == 1.0 and ckpt.name == "k=1.00.safetensors"
    assert sweep.curves(("accuracy",))["k"] == [0.0, 1.0]
    assert find_sweeps(tmp_path) == [tmp_path / "sw"]
    with pytest.raises(CheckpointError):
        sweep.checkpoint_for("k=0.30")


def test_tiny_efficiency(tmp_path):
    _tiny_geirhos(tmp_path / "data")
    cfg = EfficiencyConfig(data=str(tmp_path / "data"), out=str(tmp_path / "ef"), seeds=(0, 1), size=16, epochs=1, batch_size=4, width=4)  # fmt: skip
    res = run_efficiency(cfg)
    assert [r["model"] for r in res["table"]] == ["baseline k=1.00 @100%", "k=0.80 @40%"]
    assert res["n_train_fraction"] < res["n_train_full"]
    assert all(r["seeds"] == 2 for r in res["table"])


def test_bad_sweep_inputs(tmp_path):
    with pytest.raises(ConfigError, match="k must|every k"):
        SweepConfig(ks=(0.5, 1.5)).validate()
    with pytest.raises(DatasetError, match="no sweep results"):
        load_sweep(tmp_path)
    one = tmp_path / "one" / "cue-conflict" / "cat"
    one.mkdir(parents=True)
    Image.fromarray(np.zeros((20, 20, 3), np.uint8)).save(one / "cat1-cat1.png")
    assert (
        main(["sweep", "--data", str(tmp_path / "one"), "--out", str(tmp_path / "o"), "--epochs", "1"]) == 2
    )


def test_tiny_studio_sweep(tmp_path):
    from core.texture.studio import prepare_studio

    data = prepare_studio(heads=("hex", "wing"), n_per_class=4, size=16, test_fraction=0.5)
    assert data.classes == ["hex", "wing"] and data.train_clean is not None
    assert len(data.train_image) == len(data.train_clean)  # one swap per photo
    assert (data.train_shape != data.train_tex).all() and (data.test_shape != data.test_tex).all()
    assert data.plain_image.shape == data.test_clean.shape  # silhouettes of the held-out photos
    cfg = SweepConfig(dataset="studio", n_per_class=4, out=str(tmp_path / "st"), ks=(0.5,), seeds=(0,), size=16, epochs=1, batch_size=4, width=4, layer_models=False)  # fmt: skip
    res = run_sweep(cfg)
    assert [r["model"] for r in res["table"]] == ["baseline-clean", "k=0.50"]
    (tmp_path / "studio_sweep").mkdir()
    (tmp_path / "studio_sweep" / "ckpt").mkdir()
    (tmp_path / "studio_sweep" / "results.json").write_text('{"table": []}')
    assert find_sweeps(tmp_path)[0].name == "studio_sweep"  # the shipped default is listed first


def test_studio_bad_inputs():
    from core.texture.studio import render_crops

    with pytest.raises(ConfigError, match="unknown head"):
        render_crops(heads=("hex", "nope"))
    with pytest.raises(DatasetError, match="one class"):
        render_crops(heads=("hex", "hex"))
    with pytest.raises(ConfigError, match="unknown dataset"):
        SweepConfig(dataset="imagenet").validate()
