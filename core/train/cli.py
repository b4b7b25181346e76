"""``python -m core.train <task> [--config cfg.yaml] [--out RUN_DIR] [--set key=value ...]``.

The workbench launches this very command as a background job (core/jobs), so a run behaves the same from
a terminal and from the browser. Exit codes: 0 done (or cancelled), 2 bad configuration, 1 training failed.
``--devices N`` (> 1) trains with DDP: Lightning's launcher re-runs this command once per extra rank.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from core.errors import FvwError

__all__ = ["main", "build_parser"]

_RUN_DIR_ENV = "FVW_TRAIN_RUN_DIR"  # inherited by the DDP ranks the launcher starts, so all share one folder


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m core.train", description="Run a registered training task.")
    p.add_argument("task", nargs="?", help="task name (see --list)")
    p.add_argument("--config", help="YAML file of key: value settings (engine keys and task options)")
    p.add_argument("--out", help="run folder (default: <runs>/<task>-<time>)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override one setting")
    p.add_argument("--devices", type=int, help="processes (DDP when > 1)")
    p.add_argument("--resume", dest="resume", action="store_true", default=None, help="continue from last.pt")
    p.add_argument("--no-resume", dest="resume", action="store_false", help="start over in the run folder")
    p.add_argument("--list", action="store_true", help="list the tasks and exit")
    return p


def _run(args: argparse.Namespace) -> int:
    from core.paths import runs_dir
    from core.train.config import load_yaml, parse_overrides, split_config
    from core.train.tasks import available_tasks, get_task

    if args.list or not args.task:
        for name in available_tasks():
            print(name)
        return 0 if args.list else 2
    task = get_task(args.task)
    values: dict[str, Any] = load_yaml(args.config) if args.config else {}
    values.update(parse_overrides(args.set))
    if args.devices is not None:
        values["devices"] = args.devices
    if args.resume is not None:
        values["resume"] = args.resume
    out = args.out or os.environ.get(_RUN_DIR_ENV) or values.get("out_dir")
    if not out:
        out = str(runs_dir() / f"{task.name}-{time.strftime('%Y%m%d-%H%M%S')}")
    values["out_dir"] = str(Path(out).resolve())
    os.environ[_RUN_DIR_ENV] = values["out_dir"]
    train, options, merged = split_config(values, task.options)
    if int(os.environ.get("RANK", os.environ.get("LOCAL_RANK", "0"))) == 0:
        from core.train.run_files import write_json_atomic

        write_json_atomic(
            Path(values["out_dir"]) / "task.json", {"task": task.name, **merged, "argv": sys.argv}
        )
    result = task.run(train, options) if task.options is not None else task.run(train, None)
    if int(os.environ.get("RANK", os.environ.get("LOCAL_RANK", "0"))) == 0:
        best = getattr(result, "best", None)
        print(json.dumps({"task": task.name, "run_dir": values["out_dir"], "best": best}, default=str))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` and run the task; typed errors become a one-line message and exit code 2."""
    args = build_parser().parse_args(argv)
    try:
        return _run(args)
    except FvwError as e:
        print(f"error: {e}", file=sys.stderr)
        from core.errors import ConfigError

        return 2 if isinstance(e, ConfigError) else 1
