from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from core.errors import CheckpointError

PAGE = Path(__file__).resolve().parents[2] / "apps" / "views" / "models.py"


class FakeModel:
    def __init__(self, threshold: int) -> None:
        self.threshold = threshold

    def probability(self, image):
        return (image[..., 0] > self.threshold).astype(np.float32)


def fake_loader(path, device="auto"):
    if "broken" in Path(path).name:
        raise CheckpointError("checkpoint does not fit the segmenter", path=path)
    return FakeModel(100 if "a_" in Path(path).name else 200)


@pytest.fixture
def env(tmp_path, monkeypatch) -> Path:
    models = tmp_path / "models"
    models.mkdir()
    for name, miou in (("a_seg", 0.71), ("b_seg", 0.83)):
        (models / f"{name}.safetensors").write_bytes(b"w" * 100)
        (models / f"{name}.md").write_text(f"# {name}\nTrained on studio photos.")
        (models / f"{name}.metrics.json").write_text(json.dumps({"val_miou": miou, "epochs": 3}))
    ds = tmp_path / "annotations" / "shop"
    ds.mkdir(parents=True)
    for i in range(2):
        img = np.full((40, 50, 3), 60, np.uint8)
        cv2.circle(img, (25, 20), 8, (250, 150, 250), -1)
        cv2.imwrite(str(ds / f"p{i}.png"), img)
    monkeypatch.setenv("FVW_MODELS", str(models))
    monkeypatch.setenv("FVW_ANNOTATIONS", str(tmp_path / "annotations"))
    return models


def _app(loader=fake_loader) -> AppTest:
    at = AppTest.from_file(str(PAGE), default_timeout=30)
    if loader is not None:
        at.session_state["_fvw_model_loader"] = loader
    return at.run()


def test_lists_models_with_cards_and_metrics(env):
    at = _app()
    assert not at.exception, at.exception
    table = at.dataframe[0].value
    assert list(table["model"]) == ["a_seg", "b_seg"] and list(table["val_miou"]) == [0.71, 0.83]
    assert any("Trained on studio photos" in md.value for md in at.markdown)
    cmp = at.dataframe[1].value
    assert list(cmp["metric"]) == ["epochs", "val_miou"] and list(cmp["b_seg"]) == ["3", "0.83"]


def test_choosing_the_search_model_writes_the_settings_file(env):
    at = _app()
    at.selectbox(key="models_pick").select("b_seg").run()
    at.button(key="models_use").click().run()
    assert json.loads((env / "selected.json").read_text()) == {"segmenter": "b_seg.safetensors"}
    at = _app()
    assert list(at.dataframe[0].value["search uses it"]) == ["", "✅"]
    assert at.selectbox(key="models_pick").value == "b_seg"


def test_side_by_side_predictions_and_a_broken_checkpoint(env):
    (env / "c_broken.pt").write_bytes(b"x")
    at = _app()
    at.selectbox(key="cmp_b").select("c_broken").run()
    at.slider(key="cmp_n").set_value(2).run()
    at.button(key="cmp_go").click().run()
    assert not at.exception
    assert len(at.get("image")) == 2  # model A on both photos
    assert any("does not fit the segmenter" in e.value for e in at.error)


def test_no_models(tmp_path, monkeypatch):
    monkeypatch.setenv("FVW_MODELS", str(tmp_path / "empty"))
    at = _app()
    assert not at.exception
    assert any("No checkpoints" in i.value for i in at.info)
