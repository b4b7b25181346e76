"""Run one job command and record how it ended: ``python -m core.jobs.runner RUN_DIR -- CMD ...``.

The registry starts every job through this wrapper so that any CLI (one that writes ``progress.json`` or
not) gets a final ``exit.json`` with its return code: a job that failed says so even after an app
restart, and a killed wrapper leaves no ``exit.json``, which the registry reports as killed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

__all__ = ["main"]


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data), encoding="utf-8")
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if len(argv) < 3 or argv[1] != "--":
        print("usage: python -m core.jobs.runner RUN_DIR -- COMMAND [ARGS...]", file=sys.stderr)
        return 2
    run_dir, cmd = Path(argv[0]), argv[2:]
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "exit.json").unlink(missing_ok=True)
    started = time.time()
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL)

    def _forward(signum: int, _frame: object) -> None:
        proc.send_signal(signum)

    signal.signal(signal.SIGTERM, _forward)
    signal.signal(signal.SIGINT, _forward)
    rc = proc.wait()
    cancelled = (run_dir / "cancel").exists()
    status = "cancelled" if cancelled else ("done" if rc == 0 else "failed")
    _write_json(
        run_dir / "exit.json",
        {"returncode": rc, "status": status, "started": started, "ended": time.time(), "command": cmd},
    )
    return rc


if __name__ == "__main__":
    raise SystemExit(main())
