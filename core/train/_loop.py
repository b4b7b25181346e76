"""The engine's per-run state: epochs, metric averaging, checkpoints, resume, early stopping, run files."""

from __future__ import annotations

import dataclasses
import math
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from core.errors import ConfigError, InputError, JobError
from core.train.config import TrainConfig
from core.train.run_files import (
    ProgressWriter,
    append_metrics,
    load_run_checkpoint,
    rng_state,
    save_checkpoint_atomic,
    set_rng_state,
    write_json_atomic,
    write_metrics,
)

__all__ = ["Loop", "average", "reseed_epoch", "to_device"]


def to_device(batch: Any, device: torch.device) -> Any:
    """Move the tensors of a (nested) tuple/list/dict batch to ``device``."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, Mapping):
        return {k: to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, tuple | list):
        return type(batch)(to_device(v, device) for v in batch)
    return batch


def average(sums: Mapping[str, float], counts: Mapping[str, float]) -> dict[str, float]:
    """``sums[k] / counts[k]`` for every key with a positive count (``loss`` first)."""
    keys = sorted(sums, key=lambda k: (k != "loss", k))
    return {k: float(sums[k] / counts[k]) for k in keys if counts.get(k, 0) > 0}


def reseed_epoch(seed: int, epoch: int, loader: Any) -> None:
    """Seed every RNG with ``seed + epoch`` before an epoch, so epoch ``e`` is the same fresh or resumed.

    Shuffling draws from the global torch RNG (or the loader's own generator, reseeded too); a
    DistributedSampler gets ``set_epoch`` through Fabric's loader, whose counter is set to the epoch here
    because a resumed process would otherwise start counting at 0.
    """
    from core.train.engine import set_seed

    set_seed(seed + epoch)
    if hasattr(loader, "_num_iter_calls"):
        loader._num_iter_calls = epoch - 1
    inner = getattr(loader, "_dataloader", loader)
    for obj in (
        getattr(inner, "generator", None),
        getattr(getattr(inner, "sampler", None), "generator", None),
    ):
        if isinstance(obj, torch.Generator):
            obj.manual_seed(seed + epoch)


class Loop:
    """Holds one run's state and writes its folder; :func:`core.train.engine.fit` drives it."""

    def __init__(
        self,
        fabric: Any,
        model: torch.nn.Module,
        fmodel: torch.nn.Module,
        optimizer: Any,
        scheduler: Any,
        step: Any,
        config: TrainConfig,
        run_dir: Path | None,
        extra: Mapping[str, Any],
    ):
        self.fabric = fabric
        self.model = model
        self.fmodel = fmodel
        self.optimizer = optimizer
        self.scheduler = scheduler
        self.step = step
        self.config = config
        self.run_dir = run_dir
        self.extra = dict(extra)
        self.rank0 = bool(fabric.is_global_zero)
        self.epoch = 0
        self.global_step = 0
        self.history: list[dict[str, float]] = []
        self.best_row: dict[str, float] | None = None
        self.best_value: float | None = None
        self.best_state: dict[str, torch.Tensor] | None = None
        self.bad_epochs = 0
        self.stopped_early = False
        self.cancelled = False
        self.progress = ProgressWriter(None, 1, config.epochs)
        self.tb: Any = None
        self._t0 = time.perf_counter()
        self.samples_seen = 0  # this rank's training samples in this process (DDP diagnostics)
        self.local_loss_sum = 0.0

    # -- run folder ------------------------------------------------------------------------------
    @property
    def ckpt_dir(self) -> Path | None:
        return self.run_dir / "checkpoints" if self.run_dir is not None else None

    def start(self, train_dl: Any, val_dl: Any) -> None:
        """Resume from ``last.pt`` when asked and present, open the run files, write config.json."""
        cfg = self.config
        self.batches_per_epoch = len(train_dl)
        if cfg.max_batches_per_epoch is not None:
            self.batches_per_epoch = min(self.batches_per_epoch, cfg.max_batches_per_epoch)
        total = self.batches_per_epoch * cfg.epochs
        last = self.ckpt_dir / "last.pt" if self.ckpt_dir is not None else None
        if last is not None and cfg.resume and last.is_file():
            self._resume(last)
        if self.run_dir is None or not self.rank0:
            return
        self.run_dir.mkdir(parents=True, exist_ok=True)
        (self.run_dir / "cancel").unlink(missing_ok=True)
        write_json_atomic(self.run_dir / "config.json", {"train": dataclasses.asdict(cfg), **self.extra})
        # Rewrite the metrics from the checkpoint's history: drops epochs a kill left after the checkpoint.
        write_metrics(self.run_dir / "metrics.jsonl", self.history)
        self.progress = ProgressWriter(self.run_dir, total, cfg.epochs)
        self.progress.update(self.global_step, self.epoch, force=True)
        from torch.utils.tensorboard import SummaryWriter

        self.tb = SummaryWriter(log_dir=str(self.run_dir / "tb"))

    def _resume(self, path: Path) -> None:
        ckpt = load_run_checkpoint(path)
        try:
            self.model.load_state_dict(ckpt["model"])
            self.optimizer.load_state_dict(ckpt["optimizer"])
            if self.scheduler is not None and ckpt.get("scheduler") is not None:
                self.scheduler.load_state_dict(ckpt["scheduler"])
        except (RuntimeError, ValueError, KeyError) as e:
            raise ConfigError(
                f"the run checkpoint does not match this model/optimizer ({e}); use another out_dir or resume=false",
                path=path,
                field="resume",
            ) from e
        self.epoch = int(ckpt["epoch"])
        self.global_step = int(ckpt.get("global_step", 0))
        self.history = [dict(r) for r in ckpt.get("history", [])]
        self.best_row = dict(ckpt["best_row"]) if ckpt.get("best_row") else None
        self.best_value = ckpt.get("best_value")
        self.bad_epochs = int(ckpt.get("bad_epochs", 0))
        self.stopped_early = bool(ckpt.get("stopped_early", False))
        if "rng" in ckpt:
            set_rng_state(ckpt["rng"])
        best = path.with_name("best.pt")
        if best.is_file():
            self.best_state = load_run_checkpoint(best)["model"]
        if self.stopped_early:
            self.epoch = max(self.epoch, self.config.epochs)  # an early-stopped run is finished

    # -- epochs ----------------------------------------------------------------------------------
    @staticmethod
    def accumulate(out: Any, sums: dict[str, float], counts: dict[str, float]) -> None:
        """Add one StepOutput to the running sums (weighted by its ``n``)."""
        from core.train.engine import StepOutput

        if not isinstance(out, StepOutput):
            raise InputError(f"the step function must return a StepOutput, got {type(out).__name__}")
        if not isinstance(out.loss, torch.Tensor) or out.loss.numel() != 1:
            raise InputError("StepOutput.loss must be a scalar tensor (reduce it with .mean())")
        n = float(out.n)
        if n <= 0:
            raise InputError(f"StepOutput.n must be the batch size (> 0), got {out.n!r}")
        for k, v in {"loss": float(out.loss.detach()), **out.metrics}.items():
            sums[k] = sums.get(k, 0.0) + float(v) * n
            counts[k] = counts.get(k, 0.0) + n

    def run_epoch(self, loader: Any, epoch: int, *, train: bool) -> dict[str, float]:
        """One pass over ``loader`` (train or validation); returns metrics averaged over all ranks."""
        cfg = self.config
        limit = (
            len(loader) if cfg.max_batches_per_epoch is None else min(len(loader), cfg.max_batches_per_epoch)
        )
        self.fmodel.train(train)
        sums: dict[str, float] = {}
        counts: dict[str, float] = {}
        bar = None
        # A bar only on a terminal: in a job's log.txt its carriage returns would bury the log tail.
        if cfg.progress and self.rank0 and sys.stderr.isatty():
            from tqdm import tqdm

            bar = tqdm(
                total=limit,
                desc=f"{'train' if train else 'val'} {epoch}/{cfg.epochs}",
                file=sys.stderr,
                leave=False,
            )
        try:
            for i, batch in enumerate(loader):
                if i >= limit:
                    break
                with torch.set_grad_enabled(train), self.fabric.autocast():
                    out = self.step(self.fmodel, batch, train)
                self.accumulate(out, sums, counts)
                if not math.isfinite(float(out.loss.detach())):
                    raise JobError(
                        f"the loss became {float(out.loss.detach())} at epoch {epoch}, batch {i}; "
                        "lower the learning rate or check the data"
                    )
                if train:
                    self.optimizer.zero_grad(set_to_none=True)
                    self.fabric.backward(out.loss)
                    if cfg.grad_clip is not None:
                        self.fabric.clip_gradients(self.fmodel, self.optimizer, max_norm=cfg.grad_clip)
                    self.optimizer.step()
                    self.global_step += 1
                    self.samples_seen += int(out.n)
                    self.local_loss_sum += float(out.loss.detach()) * int(out.n)
                    self.progress.update(self.global_step, epoch)
                    if self.poll_cancel(epoch_end=False):
                        break
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(loss=f"{sums['loss'] / counts['loss']:.4f}")
        finally:
            if bar is not None:
                bar.close()
        return self._reduce(sums, counts)

    def _reduce(self, sums: dict[str, float], counts: dict[str, float]) -> dict[str, float]:
        if self.fabric.world_size == 1:
            return average(sums, counts)
        keys = sorted(sums)
        t = torch.tensor([[sums[k], counts[k]] for k in keys], dtype=torch.float64, device=self.fabric.device)
        t = self.fabric.all_reduce(t, reduce_op="sum")
        return average(
            {k: float(t[i, 0]) for i, k in enumerate(keys)}, {k: float(t[i, 1]) for i, k in enumerate(keys)}
        )

    def poll_cancel(self, *, epoch_end: bool) -> bool:
        """True when the workbench asked to stop (a ``cancel`` file); DDP ranks agree at epoch ends only."""
        if self.run_dir is None or self.cancelled:
            return self.cancelled
        if self.fabric.world_size > 1:
            if not epoch_end:
                return False
            flag = bool(self.fabric.broadcast((self.run_dir / "cancel").exists(), src=0))
        else:
            flag = (self.run_dir / "cancel").exists()
        self.cancelled = flag
        return flag

    def _improved(self, value: float) -> bool:
        if not math.isfinite(value):
            return False
        if self.best_value is None:
            return True
        return value < self.best_value if self.config.mode == "min" else value > self.best_value

    def end_epoch(self, row: dict[str, float], *, has_val: bool) -> bool:
        """Book-keep one finished epoch; returns True when early stopping says stop."""
        cfg = self.config
        self.epoch = int(row["epoch"])
        self.history.append(row)
        monitored = has_val or cfg.monitor in row
        if monitored and cfg.monitor not in row:
            raise ConfigError(
                f"monitor {cfg.monitor!r} is not a history key; valid: {', '.join(sorted(row))}",
                field="monitor",
            )
        if self.scheduler is not None:
            if isinstance(self.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
                self.scheduler.step(row.get(cfg.monitor, row["train_loss"]))
            else:
                self.scheduler.step()
        improved = False
        if monitored:
            improved = self._improved(float(row[cfg.monitor]))
            if improved:
                self.best_value, self.best_row, self.bad_epochs = float(row[cfg.monitor]), dict(row), 0
                self.best_state = {
                    k: v.detach().to("cpu", copy=True) for k, v in self.model.state_dict().items()
                }
            else:
                self.bad_epochs += 1
        else:
            self.best_row = dict(row)
        stop = cfg.patience is not None and monitored and self.bad_epochs >= cfg.patience
        self.stopped_early = bool(stop and self.epoch < cfg.epochs)
        self._write_epoch(row, improved)
        if cfg.progress and self.rank0:
            shown = " ".join(f"{k}={v:.4g}" for k, v in row.items() if k not in ("epoch", "seconds"))
            print(
                f"epoch {self.epoch}/{cfg.epochs} {shown} ({row['seconds']:.1f} s)",
                file=sys.stderr,
                flush=True,
            )
        return bool(stop)

    def _write_epoch(self, row: dict[str, float], improved: bool) -> None:
        if self.run_dir is not None and self.rank0 and self.ckpt_dir is not None:
            append_metrics(self.run_dir / "metrics.jsonl", row)
            if self.tb is not None:
                for k, v in row.items():
                    if k != "epoch":
                        self.tb.add_scalar(k, v, self.epoch)
                self.tb.flush()
            if improved and self.best_state is not None:
                save_checkpoint_atomic(
                    self.ckpt_dir / "best.pt",
                    {"model": self.best_state, "epoch": self.epoch, "best_row": dict(row),
                     "config": dataclasses.asdict(self.config)},
                )  # fmt: skip
            # last.pt goes after best.pt: a resume that sees epoch e also sees epoch e's best weights.
            save_checkpoint_atomic(self.ckpt_dir / "last.pt", self._state())
            self.progress.update(self.global_step, self.epoch, force=True)
        self.fabric.barrier()

    def _state(self) -> dict[str, Any]:
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            "epoch": self.epoch,
            "global_step": self.global_step,
            "history": self.history,
            "best_row": self.best_row,
            "best_value": self.best_value,
            "bad_epochs": self.bad_epochs,
            "stopped_early": self.stopped_early,
            "rng": rng_state(),
            "config": dataclasses.asdict(self.config),
        }

    # -- the end -----------------------------------------------------------------------------------
    def finish(self) -> None:
        """Write the final metrics line and progress status (and, under DDP, one file per rank)."""
        if self.run_dir is None:
            return
        if self.fabric.world_size > 1:
            self._write_rank_file()
        if not self.rank0:
            return
        status = "cancelled" if self.cancelled else "done"
        append_metrics(
            self.run_dir / "metrics.jsonl",
            {"final": True, "status": status, "epochs_run": len(self.history), "best": self.best_row,
             "stopped_early": self.stopped_early, "world_size": self.fabric.world_size,
             "seconds": round(time.perf_counter() - self._t0, 3)},
        )  # fmt: skip
        self.progress.update(self.global_step, self.epoch, status=status, force=True)
        if self.tb is not None:
            self.tb.close()

    def fail(self, error: BaseException) -> None:
        """Record a failure in progress.json (the exception is re-raised by the caller)."""
        if self.run_dir is None or not self.rank0:
            return
        status = "cancelled" if isinstance(error, KeyboardInterrupt) else "failed"
        self.progress.update(
            self.global_step, self.epoch, status=status, error=f"{type(error).__name__}: {error}", force=True
        )
        if self.tb is not None:
            self.tb.close()

    def _write_rank_file(self) -> None:
        """``ranks/rank<r>.json``: what this rank saw and a digest of its weights.

        Equal digests on all ranks after training on different shards show the gradients were averaged.
        """
        import hashlib

        assert self.run_dir is not None
        digest = hashlib.sha256()
        for name, p in sorted(self.model.state_dict().items()):
            digest.update(name.encode())
            digest.update(p.detach().cpu().contiguous().numpy().tobytes())
        write_json_atomic(
            self.run_dir / "ranks" / f"rank{self.fabric.global_rank}.json",
            {"rank": self.fabric.global_rank, "world_size": self.fabric.world_size,
             "samples_seen": self.samples_seen, "local_train_loss_sum": self.local_loss_sum,
             "weights_sha256": digest.hexdigest()},
        )  # fmt: skip
