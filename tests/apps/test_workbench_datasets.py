from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from core.annotation import LabelFile, Shape, save_label_file
from core.jobs import JobRegistry, JobTemplate, Option
from core.jobs import templates as job_templates

PAGE = Path(__file__).resolve().parents[2] / "apps" / "views" / "datasets.py"

_FAKE_SYNTH = """
import sys, pathlib
out = pathlib.Path(sys.argv[sys.argv.index('--out') + 1])
if '--crash' in sys.argv:
    raise SystemExit('RuntimeError: studio scene has no light')
out.mkdir(parents=True, exist_ok=True)
(out / 'synth0.png').write_bytes(b'')
"""


@pytest.fixture
def dataset(tmp_path, monkeypatch) -> Path:
    ann = tmp_path / "annotations"
    root = ann / "shop"
    root.mkdir(parents=True)
    for i in range(6):
        img = np.full((48, 64, 3), 50, np.uint8)
        cv2.circle(img, (32, 24), 10, (200, 200, 90), -1)
        cv2.imwrite(str(root / f"p{i}.png"), img)
        if i < 4:
            shapes = [
                Shape(
                    "screw",
                    [[22, 14], [42, 14], [42, 34], [22, 34]],
                    extra={"attributes": {"head": "pan" if i % 2 else "hex"}},
                )
            ]
            if i == 0:
                shapes.append(Shape("coin", [[1, 1], [10, 1], [10, 10]]))
            save_label_file(root / f"p{i}.json", LabelFile(shapes, f"p{i}.png", 48, 64))
    (root / "p5.json").write_text("{ broken")
    monkeypatch.setenv("FVW_ANNOTATIONS", str(ann))
    monkeypatch.setenv("FVW_RUNS", str(tmp_path / "runs"))
    return root


def _app() -> AppTest:
    return AppTest.from_file(str(PAGE), default_timeout=30).run()


def test_counts_filters_and_thumbnails(dataset):
    at = _app()
    assert not at.exception, at.exception
    assert [m.value for m in at.metric] == ["6", "4", "5", "1"]
    assert any("p5.json" in w.value and "invalid JSON" in w.value for w in at.warning)
    table = at.dataframe[0].value
    assert dict(zip(table["class"], table["shapes"], strict=True)) == {"screw": 4, "coin": 1}
    at.selectbox(key="ds_attr").select("head=pan").run()
    assert any("2 of 6 photos match" in c.value for c in at.caption)
    assert len(at.get("image")) == 2
    at.selectbox(key="ds_attr").select("").run()
    at.selectbox(key="ds_class").select("coin").run()
    assert any("1 of 6 photos match" in c.value for c in at.caption)


def test_split_is_saved_in_the_dataset(dataset):
    at = _app()
    at.button(key="ds_save_split").click().run()
    assert not at.exception and not at.error
    split = json.loads((dataset / "split.json").read_text())
    assert sorted(split["train"] + split["val"] + split["test"]) == [f"p{i}.png" for i in range(4)]


def test_coco_export(dataset, tmp_path):
    at = _app()
    out = tmp_path / "out.json"
    at.text_input(key="ds_coco").input(str(out)).run()
    at.button(key="ds_export").click().run()
    assert not at.exception
    coco = json.loads(out.read_text())
    assert len(coco["annotations"]) == 5 and {c["name"] for c in coco["categories"]} == {"screw", "coin"}
    assert any("5 annotations" in s.value for s in at.success)


def _fake_template(script: Path) -> JobTemplate:
    return JobTemplate(
        name="studio_photos",
        kind="data",
        description="fake studio",
        module="json",
        options=(Option("n", 2), Option("out", "x"), Option("mode", "ok", choices=("ok", "crash"))),
        build=lambda v: (
            [sys.executable, str(script), "--n", str(v["n"]), "--out", v["out"]]
            + (["--crash"] if v["mode"] == "crash" else [])
        ),
    )


def _wait(runs: Path) -> list:
    reg = JobRegistry(runs)
    for _ in range(200):
        jobs = reg.list()
        if jobs and all(j.status in ("done", "failed", "cancelled") for j in jobs):
            return jobs
        time.sleep(0.1)
    raise AssertionError("job did not finish")


@pytest.mark.parametrize("mode", ["ok", "crash"])
def test_synthetic_generation_runs_as_a_job_and_a_crash_is_shown(dataset, tmp_path, monkeypatch, mode):
    script = tmp_path / "synth.py"
    script.write_text(_FAKE_SYNTH)
    monkeypatch.setitem(job_templates._TEMPLATES, "studio_photos", _fake_template(script))
    out = tmp_path / "annotations" / "synthetic"
    at = _app()
    at.text_input(key="synth-out").input(str(out)).run()
    at.selectbox(key="synth-mode").select(mode).run()
    at.button(key="synth_go").click().run()
    assert any("Started job" in s.value for s in at.success)
    (job,) = _wait(tmp_path / "runs")
    at = _app()
    if mode == "ok":
        assert job.status == "done" and (out / "synth0.png").exists()
    else:
        assert job.status == "failed"
        assert any("studio_photos failed" in e.value for e in at.error)
        assert "no light" in " ".join(c.value for c in at.code)


def test_no_dataset_and_no_studio(tmp_path, monkeypatch):
    monkeypatch.setenv("FVW_ANNOTATIONS", str(tmp_path / "none"))
    monkeypatch.setenv("FVW_RUNS", str(tmp_path / "runs"))
    monkeypatch.setattr(job_templates, "_TEMPLATES", {})
    at = _app()
    assert not at.exception
    assert any("No dataset" in i.value for i in at.info)
    assert any("core.synth" in i.value for i in at.info)
    at.text_input(key="ds_folder").input(str(tmp_path / "missing")).run()
    assert any("not found" in e.value for e in at.error)
