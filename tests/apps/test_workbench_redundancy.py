from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from core.jobs import JobRegistry

PAGE = Path(__file__).resolve().parents[2] / "apps" / "views" / "redundancy.py"

# A fake study: writes the files the real CLI writes, without training anything.
_FAKE_STUDY = """
import json, os, sys
run = sys.argv[1]
open(os.path.join(run, "report.md"), "w").write(
    "# Data redundancy and distillation study\\n\\n## Table 1 — tiling\\n\\n| variant | error |\\n|---|---|\\n"
    "| DN | 0.100 |\\n\\n**Estimated redundancy: 0.25**\\n\\n![tiling](tiling.png)\\n"
)
import numpy as np
from PIL import Image
Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(os.path.join(run, "tiling.png"))
json.dump({"done": 1, "total": 1, "status": "done"}, open(os.path.join(run, "progress.json"), "w"))
"""


@pytest.fixture
def runs(tmp_path, monkeypatch):
    monkeypatch.setenv("FVW_RUNS", str(tmp_path / "runs"))
    return tmp_path / "runs"


def _wait_final(runs: Path, timeout: float = 60) -> list:
    reg = JobRegistry(runs)
    t0 = time.time()
    while time.time() - t0 < timeout:
        jobs = reg.list()
        if jobs and all(j.status in ("done", "failed", "cancelled") for j in jobs):
            return jobs
        time.sleep(0.2)
    raise AssertionError("job did not finish")


def test_a_finished_study_shows_its_report_and_plots(runs, tmp_path):
    script = tmp_path / "fake_study.py"
    script.write_text(_FAKE_STUDY)
    JobRegistry(runs).launch(
        [sys.executable, str(script), "{run_dir}"], name="redundancy study: heads", kind="redundancy"
    )
    JobRegistry(runs).launch([sys.executable, "-c", "pass"], name="other job", kind="train")
    _wait_final(runs)
    at = AppTest.from_file(str(PAGE), default_timeout=30).run()
    assert not at.exception
    labels = [e.label for e in at.expander]
    assert any("redundancy study: heads · done" in lab for lab in labels)
    assert not any("other job" in lab for lab in labels)  # only this page's kind of job
    text = " ".join(m.value for m in at.markdown)
    assert "Estimated redundancy: 0.25" in text and "Table 1" in text and "![tiling]" not in text
    assert at.get("image")


def test_missing_folder_is_refused_without_a_job(runs, tmp_path):
    at = AppTest.from_file(str(PAGE), default_timeout=30).run()
    at.text_input[0].input(str(tmp_path / "nope"))
    at.button[0].click().run()
    assert any("is not a folder" in e.value for e in at.error)
    assert JobRegistry(runs).list() == []


def test_launching_on_a_one_class_folder_fails_with_the_typed_message(runs, tmp_path):
    only = tmp_path / "data" / "only"
    only.mkdir(parents=True)
    for i in range(3):
        Image.fromarray(np.full((8, 8, 3), i * 40, np.uint8)).save(only / f"{i}.png")
    at = AppTest.from_file(str(PAGE), default_timeout=30).run()
    at.text_input[0].input(str(tmp_path / "data"))
    at.button[0].click().run()
    assert "Started job" in at.success[0].value
    (job,) = _wait_final(runs)
    assert job.status == "failed"
    assert job.command[1:5] == ["-m", "core.redundancy", "study", "--data"]
    at = AppTest.from_file(str(PAGE), default_timeout=30).run()
    assert not at.exception
    assert "at least two" in " ".join(c.value for c in at.code)
