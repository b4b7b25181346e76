"""The task registry behind ``python -m core.train <task>``.

A task is a function ``run(train: TrainConfig, options) -> FitResult`` plus an optional frozen dataclass of
task options (the YAML/``--set`` keys besides the engine's). Tasks register with :func:`register_task`, or
are listed in ``_LAZY`` as ``"module:attribute"`` so the CLI imports only the module it needs; the
attribute is a :class:`Task` or a plain function. A listed module that is absent from this checkout is
skipped with a message instead of breaking the CLI.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from core.errors import ConfigError

__all__ = ["Task", "TaskFn", "register_task", "get_task", "available_tasks"]

TaskFn = Callable[..., Any]

# Built-in and planned tasks: name -> "module:attribute". Imported lazily, absent modules are skipped.
_LAZY: dict[str, str] = {
    "demo": "core.train.demo:DEMO_TASK",
    "toy_shapes": "core.train.demo:TOY_SHAPES_TASK",
    "segmenter": "core.segment.train:TASK",
    "attributes": "core.attributes.train:TASK",
    "texture": "core.texture.train:TASK",
    "redundancy": "core.redundancy.train:TASK",
}


@dataclass(frozen=True)
class Task:
    """A named training job.

    Attributes:
        name: The CLI name (``python -m core.train <name>``).
        run: ``run(train_config, options) -> FitResult``; ``options`` is an instance of ``options`` (or None).
        options: Frozen dataclass of the task's own config keys, or None when it has none.
        description: One line for ``--list`` and the workbench.
    """

    name: str
    run: TaskFn
    options: type | None = None
    description: str = ""


_TASKS: dict[str, Task] = {}


def register_task(name: str, fn: TaskFn, *, options: type | None = None, description: str = "") -> Task:
    """Register ``fn`` as task ``name`` (a later registration of the same name replaces it).

    Raises:
        ConfigError: ``name`` is empty or ``options`` is not a dataclass type.
    """
    import dataclasses

    if not name or not isinstance(name, str):
        raise ConfigError("a task needs a non-empty name", field="name")
    if options is not None and not (isinstance(options, type) and dataclasses.is_dataclass(options)):
        raise ConfigError(
            f"task {name!r}: options must be a dataclass type, got {options!r}", field="options"
        )
    task = Task(name=name, run=fn, options=options, description=description)
    _TASKS[name] = task
    return task


def _module_present(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a missing parent package
        return False


def available_tasks() -> list[str]:
    """Registered tasks plus listed ones whose module exists in this checkout (nothing is imported)."""
    names = list(_TASKS)
    for name, spec in _LAZY.items():
        if name not in _TASKS and _module_present(spec.split(":", 1)[0]):
            names.append(name)
    return names


def get_task(name: str) -> Task:
    """The task called ``name``, importing its module when it is a listed one.

    Raises:
        ConfigError: Unknown name (the message lists the valid ones), or a listed module that is absent
            or lacks the attribute.
    """
    if name in _TASKS:
        return _TASKS[name]
    if name not in _LAZY:
        raise ConfigError(f"unknown task {name!r}; valid tasks: {', '.join(available_tasks())}", field="task")
    module, _, attr = _LAZY[name].partition(":")
    if not _module_present(module):
        raise ConfigError(
            f"task {name!r} lives in {module}, which is not in this checkout; valid tasks: "
            f"{', '.join(available_tasks())}",
            field="task",
        )
    mod = importlib.import_module(module)
    if name in _TASKS:  # the module registered itself on import
        return _TASKS[name]
    obj = getattr(mod, attr, None)
    if isinstance(obj, Task):
        _TASKS[name] = obj if obj.name == name else Task(name, obj.run, obj.options, obj.description)
    elif callable(obj):
        register_task(
            name, obj, options=getattr(obj, "options", None), description=(obj.__doc__ or "").strip()
        )
    else:
        raise ConfigError(f"task {name!r}: {module} has no task object {attr!r}", field="task")
    return _TASKS[name]
