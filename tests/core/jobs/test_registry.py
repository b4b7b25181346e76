from __future__ import annotations

import json
import os
import signal
import sys
import time

import pytest

from core.errors import JobError
from core.jobs import JobRegistry

# A stand-in for a training CLI: writes progress.json like core.train does, honours the cancel file.
_SCRIPT = r"""
import json, os, sys, time
run = sys.argv[1]; steps = int(sys.argv[2]); mode = sys.argv[3]
start = 0
if "--resume" in sys.argv and os.path.exists(os.path.join(run, "progress.json")):
    start = json.load(open(os.path.join(run, "progress.json")))["step"]
def prog(step, status, error=None):
    tmp = os.path.join(run, "progress.json.tmp")
    json.dump({"step": step, "total_steps": steps, "status": status, "error": error}, open(tmp, "w"))
    os.replace(tmp, os.path.join(run, "progress.json"))
for step in range(start, steps):
    if os.path.exists(os.path.join(run, "cancel")):
        prog(step, "cancelled"); sys.exit(0)
    if mode == "crash" and step == 1:
        print("Traceback: boom", flush=True); prog(step, "failed", "ValueError: boom"); sys.exit(1)
    if mode == "die" and step == 1:
        os._exit(9)
    print(f"step {step}", flush=True)
    with open(os.path.join(run, "metrics.jsonl"), "a") as fh:
        fh.write(json.dumps({"step": step, "loss": 1.0 / (step + 1)}) + "\n")
    prog(step + 1, "running")
    time.sleep(0.05 if mode != "slow" else 0.5)
prog(steps, "done")
"""


def _wait(reg, job_id, states, timeout=20.0):
    t0 = time.time()
    while time.time() - t0 < timeout:
        job = reg.get(job_id)
        if job.status in states:
            return job
        time.sleep(0.05)
    raise AssertionError(f"job stayed {reg.get(job_id).status}")


@pytest.fixture
def script(tmp_path):
    path = tmp_path / "fake_train.py"
    path.write_text(_SCRIPT)
    return path


def test_job_runs_to_done_and_survives_a_new_registry(tmp_path, script):
    reg = JobRegistry(tmp_path / "runs")
    job = reg.launch([sys.executable, str(script), "{run_dir}", "5", "ok"], name="toy")
    done = _wait(reg, job.id, {"done"})
    assert done.fraction == 1.0 and [m["step"] for m in done.metrics()] == [0, 1, 2, 3, 4]
    # An app restart builds a new registry over the same folder and sees the same job.
    again = JobRegistry(tmp_path / "runs").list()
    assert [(j.id, j.status) for j in again] == [(job.id, "done")]
    assert "step 4" in again[0].log_tail()


def test_crash_shows_its_error(tmp_path, script):
    reg = JobRegistry(tmp_path / "runs")
    job = reg.launch([sys.executable, str(script), "{run_dir}", "5", "crash"], name="bad")
    failed = _wait(reg, job.id, {"failed"})
    assert "boom" in failed.error and "Traceback" in failed.log_tail()


def test_process_that_dies_reports_its_exit_code(tmp_path, script):
    reg = JobRegistry(tmp_path / "runs")
    job = reg.launch([sys.executable, str(script), "{run_dir}", "5", "die"], name="died")
    failed = _wait(reg, job.id, {"failed"})
    assert "code 9" in failed.error


def test_killed_job_is_reported_failed(tmp_path, script):
    reg = JobRegistry(tmp_path / "runs")
    job = reg.launch([sys.executable, str(script), "{run_dir}", "50", "slow"], name="killed")
    _wait(reg, job.id, {"running"})
    os.killpg(job.pid, signal.SIGKILL)  # the whole job, wrapper included, as an OOM killer or reboot would
    failed = _wait(reg, job.id, {"failed"})
    assert "killed or crashed" in failed.error


def test_cancel_then_resume_continues(tmp_path, script):
    reg = JobRegistry(tmp_path / "runs")
    job = reg.launch([sys.executable, str(script), "{run_dir}", "6", "slow"], name="long")
    _wait(reg, job.id, {"running"})
    time.sleep(0.8)
    assert reg.cancel(job.id).status == "cancelled"
    time.sleep(0.3)
    step_at_cancel = json.loads((job.run_dir / "progress.json").read_text())["step"]
    assert 0 < step_at_cancel < 6
    resumed = reg.resume(job.id)
    assert resumed.run_dir == job.run_dir and "--resume" in resumed.command
    done = _wait(reg, resumed.id, {"done"}, timeout=30)
    steps = [m["step"] for m in done.metrics()]
    assert steps[-1] == 5 and steps.count(0) == 1  # continued, not restarted


def test_unknown_job_and_bad_command(tmp_path):
    reg = JobRegistry(tmp_path / "runs")
    with pytest.raises(JobError, match="no job"):
        reg.get("nope")
    with pytest.raises(JobError, match="could not start"):
        reg.launch(["/nonexistent/binary"], name="x")


def test_templates_build_commands_and_refuse_unknown_options():
    from core.errors import ConfigError
    from core.jobs import get_template

    tpl = get_template("toy_shapes")
    cmd = tpl.command({"epochs": 2})
    assert cmd[:4] == ["python", "-m", "core.train", "toy_shapes"] and "epochs=2" in cmd
    with pytest.raises(ConfigError, match="unknown option"):
        tpl.command({"epoch": 2})
    with pytest.raises(ConfigError, match="valid jobs"):
        get_template("nope")
    with pytest.raises(ConfigError, match="must be one of"):
        get_template("studio_photos").command({"mode": "party"})
