from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.jobs import JobRegistry, JobTemplate, Option
from core.texture.model import TinyCNN, TinyCNNArgs, save_model

PAGE = Path(__file__).resolve().parents[2] / "apps" / "views" / "texture.py"


def _fake_sweep(folder: Path) -> None:
    """Three tiny random models (k = 0, 0.5, 1) and a results table with known numbers."""
    table = []
    for k, acc in ((0.0, 0.1), (0.5, 0.2), (1.0, 0.3)):
        name = f"k={k:.2f}"
        save_model(TinyCNN(TinyCNNArgs(num_classes=3, width=4)), folder / "ckpt" / f"{name}.safetensors", ["a", "b", "c"], {"k": k, "size": 16})  # fmt: skip
        row = {"model": name, "k": k, "seeds": 1, "clean_accuracy": acc}
        for m in ("accuracy", "structure_only_accuracy", "texture_only_accuracy", "shape_bias"):
            row[m], row[m + "_std"] = acc, 0.0
        table.append(row)
    (folder / "results.json").write_text(json.dumps({"table": table, "runs": []}))


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("FVW_MODELS", str(tmp_path / "models"))
    monkeypatch.setenv("FVW_RUNS", str(tmp_path / "runs"))
    return tmp_path


def test_page_shows_layers_nearest_model_and_curves(env):
    _fake_sweep(env / "models" / "texture" / "fake")
    at = AppTest.from_file(str(PAGE), default_timeout=60).run()
    assert not at.exception, at.exception
    assert not at.error
    k = next(s for s in at.slider if s.label == "k")
    k.set_value(0.8).run()
    assert not at.exception
    assert any("Nearest trained model: k = 1.00" in c.value for c in at.caption)
    k.set_value(0.3).run()
    assert any("Nearest trained model: k = 0.50" in c.value for c in at.caption)
    at.selectbox[1].select("l0").run()  # method
    assert not at.exception and not at.error


def test_page_without_sweeps_says_how_to_make_one(env):
    at = AppTest.from_file(str(PAGE), default_timeout=60).run()
    assert not at.exception
    assert any("python -m core.texture sweep" in i.value for i in at.info)


def test_launch_sweep_job(env, monkeypatch):
    import core.texture.jobs as tj

    marker = env / "ran.txt"
    fake = JobTemplate(
        name="texture_sweep",
        kind="train",
        description="fake",
        module="json",
        options=(Option("ks", "0,1"),),
        build=lambda v: [sys.executable, "-c", f"open({str(marker)!r}, 'w').write({v['ks']!r})"],
    )
    monkeypatch.setattr(tj, "SWEEP_TEMPLATE", fake)
    at = AppTest.from_file(str(PAGE), default_timeout=60).run()
    at.text_input[0].set_value("0,0.5,1").run()
    next(b for b in at.button if b.label == "Start sweep").click().run()
    assert not at.exception
    assert any("Started job" in s.value for s in at.success)
    t0 = time.time()
    while not marker.exists() and time.time() - t0 < 20:
        time.sleep(0.1)
    assert marker.read_text() == "0,0.5,1"
    assert len(JobRegistry(env / "runs").list()) == 1
