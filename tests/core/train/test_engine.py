from __future__ import annotations

import json

import pytest
import torch

from core.errors import CheckpointError, ConfigError, InputError, JobError
from core.train import StepOutput, TrainConfig, evaluate, fit, set_seed

from .conftest import linear_step, make_loaders, tiny_model


def _cfg(tmp_path=None, **kw):
    base = {"epochs": 3, "lr": 0.05, "progress": False, "out_dir": str(tmp_path) if tmp_path else None}
    return TrainConfig(**(base | kw))


def _weights(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _same(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_fit_writes_the_run_folder(tmp_path):
    train, val = make_loaders()
    res = fit(tiny_model(), train, val, linear_step, _cfg(tmp_path))
    assert [r["epoch"] for r in res.history] == [1, 2, 3]
    assert {"epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "seconds"} <= set(res.history[0])
    assert res.history[-1]["train_loss"] < res.history[0]["train_loss"]  # it learns
    assert res.run_dir == tmp_path and not res.stopped_early
    lines = [json.loads(s) for s in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r.get("epoch") for r in lines[:3]] == [1, 2, 3] and lines[-1]["final"] is True
    prog = json.loads((tmp_path / "progress.json").read_text())
    assert prog["status"] == "done" and prog["done"] == prog["total"] == 3 * len(train)
    assert prog["epoch"] == prog["epochs"] == 3
    assert json.loads((tmp_path / "config.json").read_text())["train"]["lr"] == 0.05
    assert list((tmp_path / "tb").glob("events.out.tfevents.*"))
    last = torch.load(tmp_path / "checkpoints" / "last.pt", weights_only=True)
    assert last["epoch"] == 3 and {"model", "optimizer", "scheduler", "rng", "history"} <= set(last)
    best = torch.load(tmp_path / "checkpoints" / "best.pt", weights_only=True)
    assert best["best_row"]["val_loss"] == min(r["val_loss"] for r in res.history)
    assert _same(best["model"], res.model.state_dict())  # the returned model holds the best weights


def test_metrics_are_averaged_weighted_by_batch_size():
    x = torch.arange(10, dtype=torch.float32).reshape(10, 1)
    batches = [(x[:7],), (x[7:],)]  # sizes 7 and 3: an unweighted mean of batch means would differ

    def step(model, batch, train):
        (xb,) = batch
        return StepOutput(loss=model(xb).mean() * 0, metrics={"x": xb.mean().item()}, n=len(xb))

    out = evaluate(torch.nn.Linear(1, 1), batches, step, device="cpu")
    assert out["x"] == pytest.approx(4.5) and out["loss"] == 0.0


def test_same_seed_same_weights_other_seed_differs():
    def run(seed):
        train, val = make_loaders(seed)
        return _weights(fit(tiny_model(seed), train, val, linear_step, _cfg(seed=seed, epochs=2)).model)

    assert _same(run(1), run(1))
    assert not _same(run(1), run(2))


def test_set_seed_repeats_random_draws():
    set_seed(7)
    a = torch.rand(3)
    set_seed(7)
    assert torch.equal(a, torch.rand(3))
    with pytest.raises(ConfigError):
        set_seed(-1)


def test_resume_after_a_kill_matches_an_uninterrupted_run(tmp_path):
    train, val = make_loaders()
    full = fit(tiny_model(), train, val, linear_step, _cfg(tmp_path / "full"))

    def die(epoch, row):
        if epoch == 1:
            raise KeyboardInterrupt("killed after epoch 1")

    train, val = make_loaders()
    with pytest.raises(KeyboardInterrupt):
        fit(tiny_model(), train, val, linear_step, _cfg(tmp_path / "cut"), on_epoch_end=die)
    assert torch.load(tmp_path / "cut" / "checkpoints" / "last.pt", weights_only=True)["epoch"] == 1
    assert json.loads((tmp_path / "cut" / "progress.json").read_text())["status"] == "cancelled"
    seen = []
    # A fresh model with other initial weights: everything must come from the checkpoint.
    train, val = make_loaders()
    resumed = fit(
        tiny_model(99),
        train,
        val,
        linear_step,
        _cfg(tmp_path / "cut"),
        on_epoch_end=lambda e, r: seen.append(e),
    )
    assert seen == [2, 3]
    assert _same(_weights(full.model), _weights(resumed.model))
    assert [r["val_loss"] for r in resumed.history] == [r["val_loss"] for r in full.history]
    epochs = [
        json.loads(s).get("epoch") for s in (tmp_path / "cut" / "metrics.jsonl").read_text().splitlines()
    ]
    assert epochs == [1, 2, 3, None]


def test_resume_false_starts_over(tmp_path):
    train, val = make_loaders()
    fit(tiny_model(), train, val, linear_step, _cfg(tmp_path, epochs=1))
    res = fit(tiny_model(), train, val, linear_step, _cfg(tmp_path, epochs=2, resume=False))
    assert [r["epoch"] for r in res.history] == [1, 2]


def test_early_stopping_keeps_the_best_epoch(tmp_path):
    scores = iter([0.5, 0.9, 0.8, 0.7, 0.95, 0.99])  # best at epoch 2, then 2 epochs without improvement

    def step(model, batch, train):
        out = linear_step(model, batch, train)
        if not train:
            out.metrics["score"] = step.score
        return out

    def next_score(epoch=None, row=None):
        step.score = next(scores)

    next_score()
    train, val = make_loaders()
    res = fit(
        tiny_model(), train, val, step, _cfg(tmp_path, epochs=6, patience=2, monitor="val_score", mode="max"),
        on_epoch_end=next_score,
    )  # fmt: skip
    assert res.stopped_early and [r["epoch"] for r in res.history] == [1, 2, 3, 4]
    assert res.best["epoch"] == 2 and res.best["val_score"] == 0.9
    best = torch.load(tmp_path / "checkpoints" / "best.pt", weights_only=True)
    assert best["epoch"] == 2 and _same(best["model"], res.model.state_dict())


def test_without_validation_best_is_the_last_epoch():
    train, _ = make_loaders()
    res = fit(tiny_model(), train, None, linear_step, _cfg(epochs=2))
    assert res.best == res.history[-1] and "val_loss" not in res.best


def test_max_batches_and_grad_clip(tmp_path):
    train, val = make_loaders()
    fit(
        tiny_model(),
        train,
        val,
        linear_step,
        _cfg(tmp_path, epochs=2, max_batches_per_epoch=2, grad_clip=0.1),
    )
    assert json.loads((tmp_path / "progress.json").read_text())["total"] == 4


def test_cancel_file_stops_the_run(tmp_path):
    train, val = make_loaders()

    def cancel(epoch, row):
        (tmp_path / "cancel").write_text("stop")

    res = fit(tiny_model(), train, val, linear_step, _cfg(tmp_path, epochs=5), on_epoch_end=cancel)
    assert res.cancelled and len(res.history) == 1
    assert json.loads((tmp_path / "progress.json").read_text())["status"] == "cancelled"


def test_scheduler_is_stepped_and_resumed(tmp_path):
    train, val = make_loaders()
    model = tiny_model()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    res = fit(model, train, val, linear_step, _cfg(tmp_path, epochs=2), optimizer=opt, scheduler=sched)
    assert [r["lr"] for r in res.history] == pytest.approx([0.1, 0.05])
    assert torch.load(tmp_path / "checkpoints" / "last.pt", weights_only=True)["scheduler"]["last_epoch"] == 2


# -- bad input -----------------------------------------------------------------------------------
def test_bad_inputs_raise_typed_errors(tmp_path):
    train, val = make_loaders()
    with pytest.raises(InputError, match="empty"):
        fit(tiny_model(), [], None, linear_step, _cfg())
    with pytest.raises(InputError, match="StepOutput"):
        fit(tiny_model(), train, None, lambda m, b, t: 1.0, _cfg())
    with pytest.raises(ConfigError, match="val_loader"):
        fit(tiny_model(), train, None, linear_step, _cfg(patience=2))
    with pytest.raises(ConfigError, match="not a history key"):
        fit(tiny_model(), train, val, linear_step, _cfg(monitor="val_f1"))
    with pytest.raises(ConfigError, match="TrainConfig"):
        fit(tiny_model(), train, val, linear_step, {"epochs": 1})
    with pytest.raises(ConfigError, match="pytest"):
        fit(tiny_model(), train, val, linear_step, _cfg(devices=2))


def test_nan_loss_is_reported(tmp_path):
    train, _ = make_loaders()

    def step(model, batch, train):
        out = linear_step(model, batch, train)
        return StepOutput(out.loss * float("nan"), {}, out.n)

    with pytest.raises(JobError, match="nan"):
        fit(tiny_model(), train, None, step, _cfg(tmp_path))
    prog = json.loads((tmp_path / "progress.json").read_text())
    assert prog["status"] == "failed" and "nan" in prog["error"]


def test_corrupt_checkpoint_says_what_to_do(tmp_path):
    (tmp_path / "checkpoints").mkdir(parents=True)
    (tmp_path / "checkpoints" / "last.pt").write_bytes(b"not a checkpoint")
    train, _ = make_loaders()
    with pytest.raises(CheckpointError, match="resume=false"):
        fit(tiny_model(), train, None, linear_step, _cfg(tmp_path))


@pytest.mark.parametrize(
    "kw",
    [{"epochs": 0}, {"lr": 0}, {"mode": "best"}, {"patience": 0}, {"precision": "8-bit"}, {"devices": 0}],
)
def test_train_config_rejects_bad_values(kw):
    with pytest.raises(ConfigError):
        TrainConfig(**kw)


def test_unknown_device_is_a_config_error():
    train, _ = make_loaders()
    with pytest.raises(ConfigError, match="unknown device"):
        fit(tiny_model(), train, None, linear_step, _cfg(device="tpu"))
