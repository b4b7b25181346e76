"""The k sweep and the data-efficiency experiment: many small models, JSON + markdown tables.

Output folder layout (``results.json``, ``results.md``, ``progress.json``, ``ckpt/<model>.safetensors``
for seed 0 of every model) is what the workbench's Texture page reads.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import ConfigError

__all__ = ["SweepConfig", "EfficiencyConfig", "run_sweep", "run_efficiency", "aggregate", "markdown_table"]

DATASETS = ("cue-conflict", "studio")
METRICS = (
    "accuracy",
    "clean_accuracy",
    "structure_only_accuracy",
    "structure_layer_accuracy",
    "texture_only_accuracy",
    "shape_bias",
)


@dataclass(frozen=True)
class SweepConfig:
    """Settings of a k sweep (CPU-sized defaults).

    ``dataset`` is ``cue-conflict`` (the Geirhos set in ``data``) or ``studio`` (rendered screws labelled
    by head type, :mod:`core.texture.studio`; ``n_per_class`` photos per head type).
    """

    dataset: str = "cue-conflict"
    n_per_class: int = 80
    data: str = "../shared/data/cue-conflict"
    out: str = "models/texture/cue_conflict_sweep"
    ks: tuple[float, ...] = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
    seeds: tuple[int, ...] = (0, 1)
    layer_models: bool = True  # also train the structure-layer and texture-layer models
    size: int = 48
    epochs: int = 12
    lr: float = 3e-3
    batch_size: int = 64
    width: int = 16
    test_fraction: float = 0.3
    device: str = "cpu"
    threads: int = 1

    def validate(self) -> SweepConfig:
        if not self.ks or any(not (0.0 <= k <= 1.0) for k in self.ks):
            raise ConfigError(f"every k must be in [0, 1], got {self.ks}", field="ks")
        if not self.seeds:
            raise ConfigError("give at least one seed", field="seeds")
        if self.dataset not in DATASETS:
            raise ConfigError(
                f"unknown dataset {self.dataset!r}; valid: {', '.join(DATASETS)}", field="dataset"
            )
        if self.epochs < 1 or self.threads < 1:
            raise ConfigError("epochs and threads must be >= 1", field="epochs")
        return self


@dataclass(frozen=True)
class EfficiencyConfig:
    """k-mixed training on a fraction of the data vs the baseline on all of it.

    The baseline is trained on clean photos with their labels where the dataset has them (studio), else
    with the folder label (k = 1) on the cue-conflict images.
    """

    dataset: str = "cue-conflict"
    n_per_class: int = 80
    data: str = "../shared/data/cue-conflict"
    out: str = "models/texture/cue_conflict_efficiency"
    k: float = 0.8
    fraction: float = 0.4
    seeds: tuple[int, ...] = (0, 1, 2)
    size: int = 48
    epochs: int = 12
    lr: float = 3e-3
    batch_size: int = 64
    width: int = 16
    test_fraction: float = 0.3
    device: str = "cpu"
    threads: int = 1


def _write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, default=float))
    os.replace(tmp, path)


def _mean_std(values: list[float]) -> tuple[float, float]:
    v = [x for x in values if not math.isnan(x)]
    if not v:
        return float("nan"), float("nan")
    return float(np.mean(v)), float(np.std(v, ddof=1)) if len(v) > 1 else 0.0


def aggregate(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mean and sample std over seeds per model name, in first-seen order."""
    names: list[str] = []
    for r in runs:
        if r["model"] not in names:
            names.append(r["model"])
    rows = []
    for name in names:
        rs = [r for r in runs if r["model"] == name]
        row: dict[str, Any] = {"model": name, "k": rs[0].get("k"), "seeds": len(rs)}
        for m in METRICS:
            row[m], row[m + "_std"] = _mean_std([float(r["metrics"].get(m, float("nan"))) for r in rs])
        rows.append(row)
    return rows


def markdown_table(rows: list[dict[str, Any]], metrics: tuple[str, ...] = METRICS) -> str:
    """``mean ± std`` per metric as a markdown table."""
    head = "| model | seeds | " + " | ".join(metrics) + " |"
    sep = "|" + "---|" * (len(metrics) + 2)
    lines = [head, sep]
    for r in rows:
        cells = [f"{r[m]:.3f} ± {r[m + '_std']:.3f}" if not math.isnan(r[m]) else "n/a" for m in metrics]
        lines.append(f"| {r['model']} | {r['seeds']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _prepare(cfg: SweepConfig | EfficiencyConfig) -> Any:
    import torch

    from core.texture.study import prepare_cue_conflict

    torch.set_num_threads(cfg.threads)
    if cfg.dataset == "studio":
        from core.texture.studio import prepare_studio

        return prepare_studio(n_per_class=cfg.n_per_class, size=cfg.size, test_fraction=cfg.test_fraction, device=cfg.device)  # fmt: skip
    if cfg.dataset != "cue-conflict":
        raise ConfigError(f"unknown dataset {cfg.dataset!r}; valid: {', '.join(DATASETS)}", field="dataset")
    data = Path(cfg.data)
    if not data.is_absolute() and not data.exists():  # relative to the repository, whatever the cwd
        from core.paths import repo_root

        data = repo_root() / data
    return prepare_cue_conflict(data, size=cfg.size, test_fraction=cfg.test_fraction, device=cfg.device)


def _train_kw(cfg: SweepConfig | EfficiencyConfig) -> dict[str, Any]:
    return {
        "epochs": cfg.epochs,
        "lr": cfg.lr,
        "batch_size": cfg.batch_size,
        "width": cfg.width,
        "device": cfg.device,
    }


def run_sweep(cfg: SweepConfig, command: str = "") -> dict[str, Any]:
    """Train every (model, seed) of the sweep, evaluate on held-out shapes, write the output folder.

    Returns:
        The ``results.json`` content: config, per-run metrics, aggregated rows, seconds.
    """
    from core.texture.model import save_model
    from core.texture.study import evaluate_model, train_model

    cfg = cfg.validate()
    out = Path(cfg.out)
    t0 = time.time()
    data = _prepare(cfg)
    plan: list[tuple[str, str, float | None]] = [("k=%.2f" % k, "mixed", k) for k in cfg.ks]  # noqa: UP031
    if data.train_clean is not None:
        plan.insert(0, ("baseline-clean", "clean", None))
    if cfg.layer_models:
        plan += [("structure-layer", "structure", None), ("texture-layer", "texture", None)]
    total = len(plan) * len(cfg.seeds)
    runs: list[dict[str, Any]] = []
    for name, kind, k in plan:
        for seed in cfg.seeds:
            _write_json(
                out / "progress.json",
                {"done": len(runs), "total": total, "status": "running", "current": name},
            )
            model = train_model(data, kind=kind, k=1.0 if k is None else k, seed=seed, **_train_kw(cfg))
            runs.append(
                {"model": name, "kind": kind, "k": k, "seed": seed, "metrics": evaluate_model(model, data)}
            )
            if seed == cfg.seeds[0]:
                save_model(model, out / "ckpt" / f"{name}.safetensors", data.classes, {"k": k, "kind": kind, "size": cfg.size})  # fmt: skip
    result = {
        "config": asdict(cfg),
        "command": command,
        "classes": data.classes,
        "n_train": len(data.train_image),
        "n_test": len(data.test_image),
        "test_shape_ids": data.test_shape_ids,
        "runs": runs,
        "table": aggregate(runs),
        "seconds": round(time.time() - t0, 1),
    }
    _write_json(out / "results.json", result)
    (out / "results.md").write_text(_sweep_md(result))
    _write_json(out / "progress.json", {"done": total, "total": total, "status": "done"})
    return result


def _sweep_md(result: dict[str, Any]) -> str:
    c = result["config"]
    return (
        f"# k sweep on the {c['dataset']} set\n\nCommand: `{result['command']}`\n\n"
        f"{result['n_train']} train / {result['n_test']} test images (test = unseen shape sources), "
        f"{c['size']} px, {c['epochs']} epochs, seeds {c['seeds']}, {result['seconds']} s. Mean ± std over seeds.\n\n"
        + markdown_table(result["table"])
    )


def run_efficiency(cfg: EfficiencyConfig, command: str = "") -> dict[str, Any]:
    """Baseline (k = 1) on 100 % vs k-mixed on ``fraction`` of the training images, over seeds."""
    from core.texture.study import evaluate_model, train_model

    if not (0 < cfg.fraction <= 1) or not (0 <= cfg.k <= 1) or not cfg.seeds:
        raise ConfigError("need 0 < fraction <= 1, 0 <= k <= 1 and at least one seed", field="fraction")
    out = Path(cfg.out)
    t0 = time.time()
    data = _prepare(cfg)
    base_kind = "clean" if data.train_clean is not None else "mixed"
    plan = [
        (f"baseline {'clean' if base_kind == 'clean' else 'k=1.00'} @100%", base_kind, 1.0, 1.0),
        (f"k={cfg.k:.2f} @{cfg.fraction:.0%}", "mixed", cfg.k, cfg.fraction),
    ]
    runs: list[dict[str, Any]] = []
    total = len(plan) * len(cfg.seeds)
    for name, kind, k, frac in plan:
        for seed in cfg.seeds:
            _write_json(out / "progress.json", {"done": len(runs), "total": total, "status": "running"})
            m = train_model(data, kind=kind, k=k, seed=seed, train_fraction=frac, **_train_kw(cfg))
            met = evaluate_model(m, data)
            runs.append({"model": name, "k": k, "fraction": frac, "seed": seed, "metrics": met})
    table = aggregate(runs)
    result = {
        "config": asdict(cfg),
        "command": command,
        "n_train_full": len(data.train_clean if base_kind == "clean" else data.train_image),
        "n_train_fraction": int(round(cfg.fraction * len(data.train_image))),
        "runs": runs,
        "table": table,
        "seconds": round(time.time() - t0, 1),
    }
    _write_json(out / "results.json", result)
    md = (
        f"# Data efficiency on the {cfg.dataset} set\n\nCommand: `{command}`\n\n"
        f"Baseline: {result['n_train_full']} training images; mixed: {result['n_train_fraction']}. "
        f"Mean ± std over seeds {list(cfg.seeds)}; test = unseen shape sources.\n\n" + markdown_table(table)
    )
    (out / "results.md").write_text(md)
    _write_json(out / "progress.json", {"done": total, "total": total, "status": "done"})
    return result
