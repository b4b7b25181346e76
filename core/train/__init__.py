"""The training engine: one Lightning Fabric loop for every trainer, plus the ``python -m core.train`` CLI.

Importing this package loads torch but not Lightning; Fabric is imported when :func:`fit` runs.
Trainers register a CLI task with :func:`register_task` (or are listed in ``core.train.tasks._LAZY``).
"""

from __future__ import annotations

from core.train.config import TrainConfig, build_dataclass, load_yaml, parse_overrides, split_config
from core.train.engine import FitResult, StepFn, StepOutput, evaluate, fit, set_seed
from core.train.tasks import Task, available_tasks, get_task, register_task

__all__ = [
    "TrainConfig",
    "StepOutput",
    "StepFn",
    "FitResult",
    "fit",
    "evaluate",
    "set_seed",
    "Task",
    "register_task",
    "get_task",
    "available_tasks",
    "load_yaml",
    "parse_overrides",
    "build_dataclass",
    "split_config",
]
