from __future__ import annotations

from pathlib import Path

from PIL import Image
from streamlit.testing.v1 import AppTest

WORKBENCH = Path(__file__).resolve().parents[2] / "apps" / "workbench.py"


def test_home_lists_datasets_and_models(tmp_path, monkeypatch):
    ds = tmp_path / "ann" / "my-photos"
    ds.mkdir(parents=True)
    Image.new("RGB", (4, 3)).save(ds / "a.jpg")
    models = tmp_path / "models"
    models.mkdir()
    (models / "seg.safetensors").write_bytes(b"0" * 2048)
    (models / "seg.md").write_text("Trained on studio photos")
    monkeypatch.setenv("FVW_ANNOTATIONS", str(tmp_path / "ann"))
    monkeypatch.setenv("FVW_MODELS", str(models))
    at = AppTest.from_file(str(WORKBENCH), default_timeout=60).run()
    assert not at.exception
    frames = [df.value for df in at.dataframe]
    assert frames[0]["dataset"].tolist() == ["my-photos"]
    assert frames[1]["model"].tolist() == ["seg"]


def test_home_explains_empty_folders(tmp_path, monkeypatch):
    monkeypatch.setenv("FVW_ANNOTATIONS", str(tmp_path / "none"))
    monkeypatch.setenv("FVW_MODELS", str(tmp_path / "none2"))
    at = AppTest.from_file(str(WORKBENCH), default_timeout=60).run()
    assert not at.exception
    infos = " ".join(i.value for i in at.info)
    assert "No datasets" in infos and "No checkpoints" in infos


def test_first_start_renders_the_default_dataset(tmp_path, monkeypatch):
    monkeypatch.delenv("FVW_NO_DEFAULT_DATASET", raising=False)
    monkeypatch.setenv("FVW_ANNOTATIONS", str(tmp_path / "ann"))
    monkeypatch.setenv("FVW_MODELS", str(tmp_path / "models"))
    at = AppTest.from_file(str(WORKBENCH), default_timeout=120).run()
    assert not at.exception
    assert at.dataframe[0].value["dataset"].tolist() == ["synthetic-default"]
    assert len(list((tmp_path / "ann" / "synthetic-default").glob("*.json"))) == 48
