from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.errors import ConfigError
from core.train import get_task, register_task
from core.train.cli import main
from core.train.tasks import _LAZY, available_tasks

REPO = Path(__file__).resolve().parents[3]
TINY = ["--set", "n_train=64", "--set", "n_val=32", "--set", "epochs=2", "--set", "progress=false"]


def test_demo_task_runs_from_the_cli(tmp_path, capsys):
    cfg = tmp_path / "demo.yaml"
    cfg.write_text("lr: 0.01\nbatch_size: 16\n")
    assert main(["demo", "--config", str(cfg), "--out", str(tmp_path / "run"), *TINY]) == 0
    run = tmp_path / "run"
    task = json.loads((run / "task.json").read_text())
    assert task["task"] == "demo" and task["options"]["batch_size"] == 16 and task["train"]["lr"] == 0.01
    assert json.loads((run / "progress.json").read_text())["status"] == "done"
    assert (run / "checkpoints" / "last.pt").is_file()
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert printed["best"]["epoch"] in (1, 2) and 0.0 <= printed["best"]["val_acc"] <= 1.0


def test_unknown_task_and_key_exit_2_with_the_valid_names(tmp_path, capsys):
    assert main(["segmentr", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "unknown task 'segmentr'" in err and "demo" in err
    assert main(["demo", "--out", str(tmp_path), "--set", "epohcs=2"]) == 2
    assert "valid keys" in capsys.readouterr().err
    assert main(["demo", "--out", str(tmp_path), "--config", str(tmp_path / "none.yaml")]) == 2


def test_list_shows_only_present_tasks(capsys):
    assert main(["--list"]) == 0
    names = capsys.readouterr().out.split()
    assert "demo" in names and "toy_shapes" in names
    assert all(n in available_tasks() for n in names)


def test_registered_task_gets_its_options(tmp_path):
    from dataclasses import dataclass

    @dataclass(frozen=True)
    class Opts:
        k: int = 1

    seen = {}

    def run(train, opts):
        seen.update(train=train, opts=opts)

    register_task("unit_test_task", run, options=Opts)
    assert main(["unit_test_task", "--out", str(tmp_path), "--set", "k=5", "--set", "epochs=7"]) == 0
    assert seen["opts"] == Opts(k=5) and seen["train"].epochs == 7 and seen["train"].out_dir == str(tmp_path)
    with pytest.raises(ConfigError):
        register_task("bad", run, options=dict)


def test_absent_lazy_module_is_skipped_with_a_message(monkeypatch):
    monkeypatch.setitem(_LAZY, "ghost", "core.no_such_package.train:TASK")
    assert "ghost" not in available_tasks()
    with pytest.raises(ConfigError, match="not in this checkout"):
        get_task("ghost")


def _run_cli(args, timeout=120):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    env.pop("FVW_TRAIN_RUN_DIR", None)
    return subprocess.run(
        [sys.executable, "-m", "core.train", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_ddp_two_cpu_processes_average_gradients(tmp_path):
    run = tmp_path / "ddp"
    proc = _run_cli(["demo", "--devices", "2", "--out", str(run), "--set", "n_train=128", *TINY[2:]])
    assert proc.returncode == 0, proc.stderr[-3000:]
    ranks = [json.loads((run / "ranks" / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert all(r["world_size"] == 2 for r in ranks)
    # Each rank trained on its own half of the data (different losses, half the samples each) ...
    assert ranks[0]["samples_seen"] == ranks[1]["samples_seen"] == 128 * 2 // 2
    assert ranks[0]["local_train_loss_sum"] != ranks[1]["local_train_loss_sum"]
    # ... yet ends with bit-identical weights: the gradients were all-reduced every step.
    assert ranks[0]["weights_sha256"] == ranks[1]["weights_sha256"]
    final = json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])
    assert final["final"] and final["world_size"] == 2 and final["status"] == "done"


_KILLED_AFTER_EPOCH_1 = r"""
import os, signal, sys
import torch
from core.train import TrainConfig, fit
from core.train.demo import TinyCNN, classify_step, make_shapes
from torch.utils.data import DataLoader, TensorDataset

torch.set_num_threads(1)
x, y = make_shapes(64, seed=0)
torch.manual_seed(0)
model = TinyCNN()
dl = DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True)
def kill(epoch, row):
    os.kill(os.getpid(), signal.SIGKILL)  # no cleanup, no final words: like a power cut or the OOM killer
fit(model, dl, None, classify_step, TrainConfig(epochs=3, lr=0.01, out_dir=sys.argv[1], progress=False),
    on_epoch_end=kill)
"""


def test_sigkill_after_epoch_1_then_resume_matches_an_uninterrupted_run(tmp_path):
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    from core.train import TrainConfig, fit
    from core.train.demo import TinyCNN, classify_step, make_shapes

    script = tmp_path / "killed.py"
    script.write_text(_KILLED_AFTER_EPOCH_1)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "cut")], cwd=REPO, env=env, timeout=120
    )
    assert proc.returncode == -9
    assert (
        json.loads((tmp_path / "cut" / "progress.json").read_text())["status"] == "running"
    )  # no final word

    def run(out):
        x, y = make_shapes(64, seed=0)
        torch.manual_seed(0)
        dl = DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True)
        cfg = TrainConfig(epochs=3, lr=0.01, out_dir=str(out), progress=False)
        return fit(TinyCNN(), dl, None, classify_step, cfg)

    resumed = run(tmp_path / "cut")
    full = run(tmp_path / "full")
    assert [r["epoch"] for r in resumed.history] == [1, 2, 3]
    a, b = full.model.state_dict(), resumed.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert [r["train_loss"] for r in resumed.history] == [r["train_loss"] for r in full.history]


def test_workbench_job_template_runs_to_done(tmp_path):
    import time

    from core.jobs import JobRegistry
    from core.jobs.templates import get_template

    reg = JobRegistry(tmp_path / "runs")
    cmd = get_template("toy_shapes").command({"epochs": 1})
    job = reg.launch([*cmd, *TINY[:4], "--set", "progress=false"], name="toy", env={"OMP_NUM_THREADS": "1"})
    t0 = time.time()
    while reg.get(job.id).status not in ("done", "failed") and time.time() - t0 < 120:
        time.sleep(0.2)
    job = reg.get(job.id)
    assert job.status == "done", job.log_tail()
    assert job.fraction == 1.0 and job.metrics()[-1]["final"] is True
