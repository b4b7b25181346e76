from __future__ import annotations

import math

import numpy as np
import pytest

from core.errors import CheckpointError, ConfigError
from core.texture.model import TinyCNN, TinyCNNArgs, gradcam, load_model, predict, save_model
from core.texture.study import StudyData, evaluate_model, train_model
from core.texture.sweep import aggregate, markdown_table


def _tiny_data(n: int = 24, size: int = 16) -> StudyData:
    rng = np.random.default_rng(0)

    def imgs(k: int) -> np.ndarray:
        return rng.random((k, size, size, 3), dtype=np.float32)

    lab = np.arange(n) % 2
    tex = (np.arange(n) // 2) % 2
    return StudyData(
        classes=["a", "b"],
        train_image=imgs(n), train_structure=imgs(n), train_texture=imgs(n),
        train_shape=lab, train_tex=tex,
        test_image=imgs(8), test_structure=imgs(8), test_texture=imgs(8),
        test_shape=np.array([0, 1, 0, 1, 0, 1, 0, 1]), test_tex=np.array([0, 1, 1, 0, 1, 0, 1, 0]),
        plain_image=imgs(4), plain_label=np.array([0, 1, 0, 1]), test_shape_ids=["a1", "b1"],
    )  # fmt: skip


def test_train_evaluate_save_load_gradcam(tmp_path):
    data = _tiny_data()
    model = train_model(data, kind="mixed", k=0.8, epochs=1, batch_size=8, width=4, train_fraction=0.5)
    met = evaluate_model(model, data)
    for key in (
        "accuracy",
        "clean_accuracy",
        "structure_only_accuracy",
        "texture_only_accuracy",
        "shape_bias",
    ):
        assert key in met
    assert 0.0 <= met["accuracy"] <= 1.0 and met["n_test"] == 8 and met["n_clean"] == 2
    assert met["conflict_n"] == 6 and met["shape_hits"] + met["texture_hits"] <= 6
    path = save_model(model, tmp_path / "m.safetensors", data.classes, {"k": 0.8})
    again, classes, extra = load_model(path)
    assert classes == ["a", "b"] and extra == {"k": 0.8}
    np.testing.assert_allclose(predict(again, data.test_image), predict(model, data.test_image), atol=1e-6)
    heat = gradcam(again, data.test_image[0])
    assert heat.shape == (16, 16) and heat.min() >= 0 and heat.max() <= 1


def test_bad_training_settings():
    data = _tiny_data()
    with pytest.raises(ConfigError, match="valid"):
        train_model(data, kind="nope", epochs=1)
    with pytest.raises(ConfigError, match="train_fraction"):
        train_model(data, train_fraction=0.0, epochs=1)


def test_broken_checkpoint(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        load_model(tmp_path / "none.safetensors")
    (tmp_path / "bad.safetensors").write_bytes(b"garbage")
    with pytest.raises(CheckpointError):
        load_model(tmp_path / "bad.safetensors")
    m = TinyCNN(TinyCNNArgs(num_classes=3, width=4))
    assert predict(m, np.zeros((2, 16, 16, 3), np.uint8)).shape == (2, 3)


def test_aggregate_mean_and_std_hand_computed():
    runs = [
        {"model": "k=0.50", "k": 0.5, "metrics": {"accuracy": 0.2, "shape_bias": float("nan")}},
        {"model": "k=0.50", "k": 0.5, "metrics": {"accuracy": 0.4, "shape_bias": 0.5}},
        {"model": "k=1.00", "k": 1.0, "metrics": {"accuracy": 0.9}},
    ]
    rows = aggregate(runs)
    assert [r["model"] for r in rows] == ["k=0.50", "k=1.00"]
    assert rows[0]["accuracy"] == pytest.approx(0.3) and rows[0]["accuracy_std"] == pytest.approx(
        0.141421, 1e-4
    )
    assert rows[0]["shape_bias"] == 0.5  # NaN seeds are skipped
    assert rows[1]["accuracy_std"] == 0.0 and math.isnan(rows[1]["shape_bias"])
    md = markdown_table(rows, ("accuracy", "shape_bias"))
    assert "| k=0.50 | 2 | 0.300 ± 0.141 | 0.500 ± 0.000 |" in md and "n/a" in md
