from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.jobs import JobRegistry, JobTemplate, Option, register_template

PAGE = Path(__file__).resolve().parents[2] / "apps" / "views" / "train.py"

_FAKE = """
import json, os, sys, time
run = sys.argv[1]
for step in range(3):
    with open(os.path.join(run, "metrics.jsonl"), "a") as fh:
        fh.write(json.dumps({"step": step, "loss": 1.0 / (step + 1)}) + "\\n")
    json.dump({"step": step + 1, "total_steps": 3, "status": "running"}, open(os.path.join(run, "progress.json"), "w"))
    print("step", step, flush=True)
if sys.argv[2] == "fail":
    raise SystemExit("ValueError: the dataset has one class")
json.dump({"step": 3, "total_steps": 3, "status": "done"}, open(os.path.join(run, "progress.json"), "w"))
"""


@pytest.fixture
def fake_job(tmp_path, monkeypatch):
    script = tmp_path / "fake.py"
    script.write_text(_FAKE)
    register_template(
        JobTemplate(
            name="fake_job",
            kind="train",
            description="test job",
            module="json",
            options=(Option("mode", "ok", choices=("ok", "fail")),),
            build=lambda v: [sys.executable, str(script), "{run_dir}", v["mode"]],
        )
    )
    monkeypatch.setenv("FVW_RUNS", str(tmp_path / "runs"))
    return tmp_path / "runs"


def _wait_final(runs, timeout=20):
    reg = JobRegistry(runs)
    t0 = time.time()
    while time.time() - t0 < timeout:
        jobs = reg.list()
        if jobs and all(j.status in ("done", "failed", "cancelled") for j in jobs):
            return jobs
        time.sleep(0.1)
    raise AssertionError("job did not finish")


def test_launch_from_the_page_and_see_progress_and_curves(fake_job):
    at = AppTest.from_file(str(PAGE), default_timeout=30).run()
    assert not at.exception
    at.selectbox[0].select("fake_job").run()
    at.button[0].click().run()
    assert "Started job" in at.success[0].value
    (job,) = _wait_final(fake_job)
    assert job.status == "done"
    at = AppTest.from_file(str(PAGE), default_timeout=30).run()  # a reload sees the finished job
    assert any("fake_job · done" in e.label for e in at.expander)
    assert at.get("arrow_line_chart") or at.get("vega_lite_chart")


def test_failed_job_shows_its_error(fake_job):
    JobRegistry(fake_job).launch(
        [sys.executable, "-c", "raise SystemExit('boom: bad dataset')"], name="broken"
    )
    _wait_final(fake_job)
    at = AppTest.from_file(str(PAGE), default_timeout=30).run()
    assert not at.exception
    assert any("exited with code 1" in e.value for e in at.error)
    assert "boom: bad dataset" in " ".join(c.value for c in at.code)
