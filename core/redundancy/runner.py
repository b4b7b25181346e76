"""Run the three stages of a study on an :class:`~core.redundancy.data.ImageSet` and collect the results."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch

from core.device import resolve_device
from core.redundancy.data import ImageSet
from core.redundancy.latency import measure_latency
from core.redundancy.models import build_backbone, count_parameters
from core.redundancy.study import (
    Estimate,
    Progress,
    StudyConfig,
    _seed,
    classification_step,
    degrade,
    distillation_step,
    estimate_redundancy,
    evaluate_classifier,
    fold_splits,
    to_tensor,
    train_model,
)

__all__ = ["StudyResult", "run_study", "student_plan"]


@dataclass
class StudyResult:
    """Everything the report needs.

    Attributes:
        config: The study's settings (as a dict).
        classes: Class names; ``counts`` images per class.
        runs: One row per trained model: stage, variant, repeat, fold, loss, error, precision, recall, seconds.
        estimate: The redundancy estimate with its evidence.
        student: The student's plan (width, first_stride).
        models: Rows of the teacher / student / distilled table: params, latency (ms), error mean and std.
    """

    config: dict[str, Any]
    classes: list[str]
    counts: dict[str, int]
    runs: list[dict[str, Any]] = field(default_factory=list)
    estimate: Estimate | None = None
    student: dict[str, Any] = field(default_factory=dict)
    models: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    cpu_threads: int = 0

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able data (``results.json``)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> StudyResult:
        """Rebuild a result from :meth:`to_dict` output (to re-render a report)."""
        d = {k: v for k, v in d.items() if k != "data_dir"}
        est = d.pop("estimate", None)
        return cls(**d, estimate=Estimate(**est) if est else None)


def student_plan(estimate: Estimate) -> dict[str, Any]:
    """Width ``1 - redundancy``; a stride-2 first layer when the estimate is > 0 and stride 2 cost nothing."""
    r = estimate.redundancy
    return {"width": 1.0 - r, "first_stride": 2 if (r > 0 and estimate.stride2_ok) else 1}


def _latencies(models: list[torch.nn.Module], config: StudyConfig) -> list[dict[str, float]]:
    """Latency figures per model, measured in alternating rounds so that machine load hits all alike."""
    devices = ["cpu"]
    if torch.cuda.is_available() and resolve_device(config.device).type == "cuda":
        devices.append("cuda")
    out: list[dict[str, float]] = [{} for _ in models]
    for dev in devices:
        for batch in (1, 64):
            key = f"{'gpu' if dev == 'cuda' else 'cpu'}_b{batch}_ms"
            for _ in range(2):  # two rounds, keep each model's best median
                for i, m in enumerate(models):
                    ms = measure_latency(
                        m, config.size, batch=batch, device=dev, repeats=config.latency_repeats
                    )
                    out[i][key] = min(out[i].get(key, float("inf")), ms)
    for m in models:
        m.cpu()
    return out


def _chance_error(data: ImageSet) -> float:
    """Test error of always answering the most frequent class."""
    counts = np.bincount(data.labels)
    return float(1.0 - counts.max() / counts.sum())


def run_study(data: ImageSet, config: StudyConfig, progress: Progress | None = None) -> StudyResult:
    """Run tiling, masks, estimate, student and distillation; ``progress(done, total, what)`` after each model."""
    t_start = time.perf_counter()
    k = len(data.classes)
    splits = fold_splits(data, config)
    n_students = config.folds  # student alone + distilled, on the first repeat's folds
    total = len(splits) * (len(config.tiling_methods) + len(config.masks)) + 2 * n_students
    done = 0
    result = StudyResult(config=asdict(config), classes=list(data.classes), counts=data.counts())
    y_all = torch.from_numpy(data.labels)
    clean = to_tensor(data.images)
    teachers: dict[tuple[int, int], torch.nn.Module] = {}

    def _record(
        stage: str,
        variant: str,
        r: int,
        f: int,
        model: torch.nn.Module,
        x: torch.Tensor,
        test: np.ndarray,
        t0: float,
    ) -> None:
        nonlocal done
        metrics = evaluate_classifier(model, x[test], y_all[test], gamma=config.gamma)
        row = {
            "stage": stage,
            "variant": variant,
            "repeat": r,
            "fold": f,
            **metrics,
            "seconds": time.perf_counter() - t0,
        }
        result.runs.append(row)
        done += 1
        if progress:
            progress(done, total, f"{stage} {variant} repeat {r} fold {f}: error {metrics['error']:.3f}")

    step = classification_step(config.gamma)
    # Stage 1: tiling -- train and test on degraded inputs.
    for method in config.tiling_methods:
        x = degrade(data, method)
        for r, f, train, test in splits:
            t0 = time.perf_counter()
            torch.manual_seed(_seed(config, r, f))
            model: torch.nn.Module = build_backbone(config.backbone, k)
            model = train_model(model, x[train], y_all[train], step, config, _seed(config, r, f))
            _record("tiling", method, r, f, model, x, test, t0)
            if method == "DN" and r == 0:
                teachers[(r, f)] = model.cpu()
    # Stage 2: masked first layer at stride 2 on clean inputs.
    for mask in config.masks:
        for r, f, train, test in splits:
            t0 = time.perf_counter()
            torch.manual_seed(_seed(config, r, f))
            model = build_backbone(config.backbone, k, first_stride=2, first_mask=mask)
            model = train_model(model, clean[train], y_all[train], step, config, _seed(config, r, f))
            _record("mask", mask, r, f, model, clean, test, t0)
    fold_size = len(data.labels) / config.folds
    est = estimate_redundancy(result.runs, fold_size, chance_error=_chance_error(data))
    result.estimate = est
    plan = student_plan(est)
    result.student = plan
    # Stage 3: the student alone and distilled from the DN teacher of the same fold.
    for r, f, train, test in splits:
        if r != 0:
            continue
        for variant in ("student", "distilled"):
            t0 = time.perf_counter()
            torch.manual_seed(_seed(config, r, f) + 7)
            model = build_backbone(config.backbone, k, **plan)
            s = (
                step
                if variant == "student"
                else distillation_step(
                    teachers[(r, f)], temperature=config.temperature, alpha=config.alpha, gamma=config.gamma
                )
            )
            model = train_model(model, clean[train], y_all[train], s, config, _seed(config, r, f) + 7)
            _record("student", variant, r, f, model, clean, test, t0)
    teacher = build_backbone(config.backbone, k)
    student = build_backbone(config.backbone, k, **plan)
    lat_teacher, lat_student = _latencies([teacher, student], config)
    for name, model, lat, stage, variant in (
        ("teacher (DN)", teacher, lat_teacher, "tiling", "DN"),
        ("student alone", student, lat_student, "student", "student"),
        ("distilled student", student, lat_student, "student", "distilled"),
    ):
        errs = [
            row["error"]
            for row in result.runs
            if row["stage"] == stage and row["variant"] == variant and row["repeat"] == 0
        ]
        result.models.append(
            {
                "model": name,
                "params": count_parameters(model),
                **lat,
                "error_mean": float(np.mean(errs)),
                "error_std": float(np.std(errs, ddof=1)) if len(errs) > 1 else 0.0,
            }
        )
    result.cpu_threads = torch.get_num_threads()
    result.seconds = time.perf_counter() - t_start
    return result
