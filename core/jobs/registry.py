"""Background jobs: any CLI command run as a detached process, tracked in SQLite next to the runs.

The workbench launches the very command a user would type (``python -m core.train ...``) so a job behaves
the same from the terminal and the browser. Jobs survive a browser reload and an app restart: their state
lives in ``<runs>/jobs.sqlite`` and in each run folder (``progress.json``, ``metrics.jsonl``, ``log.txt``),
never in the app's memory. Status is derived, not stored blindly: a job whose process has gone without
writing a final status is reported ``failed`` with the tail of its log (a killed job).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import JobError

__all__ = ["Job", "JobRegistry", "FINAL_STATES"]

FINAL_STATES = frozenset({"done", "failed", "cancelled"})
_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    command TEXT NOT NULL,
    run_dir TEXT NOT NULL,
    pid INTEGER,
    created REAL NOT NULL,
    final_status TEXT
)
"""


@dataclass(frozen=True)
class Job:
    """A job as the registry sees it right now."""

    id: str
    name: str
    kind: str
    command: list[str]
    run_dir: Path
    pid: int | None
    created: float
    status: str  # queued | running | done | failed | cancelled
    progress: dict[str, Any]
    error: str | None

    @property
    def fraction(self) -> float:
        """Progress in [0, 1] from ``progress.json`` (0 when unknown)."""
        p = self.progress
        total = p.get("total") or p.get("total_steps") or 0
        done = p.get("done") if "done" in p else p.get("step", 0)
        if done is None:
            return 0.0
        try:
            return max(0.0, min(1.0, float(done) / float(total))) if total else 0.0
        except (TypeError, ValueError):
            return 0.0

    def log_tail(self, lines: int = 40) -> str:
        log = self.run_dir / "log.txt"
        if not log.is_file():
            return ""
        with open(log, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - 64_000))
            text = fh.read().decode("utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def metrics(self) -> list[dict[str, Any]]:
        """Rows of ``metrics.jsonl`` (malformed lines, e.g. one cut by a kill, are skipped)."""
        path = self.run_dir / "metrics.jsonl"
        rows: list[dict[str, Any]] = []
        if path.is_file():
            for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
                try:
                    row = json.loads(line)
                except ValueError:
                    continue
                if isinstance(row, dict):
                    rows.append(row)
        return rows


def _pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        # Reap it if it is our own finished child, so a zombie does not look alive.
        waited, _ = os.waitpid(pid, os.WNOHANG)
        if waited == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _read_progress(run_dir: Path) -> dict[str, Any]:
    return _read_json(run_dir / "progress.json")


class JobRegistry:
    """Launch, list, cancel and resume jobs. Safe to create anew on every page run."""

    def __init__(self, runs_dir: str | Path):
        self.runs_dir = Path(runs_dir)
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        self.db_path = self.runs_dir / "jobs.sqlite"
        with self._connect() as con:
            con.execute(_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        con = sqlite3.connect(self.db_path, timeout=10)
        con.row_factory = sqlite3.Row
        return con

    def launch(
        self,
        command: Sequence[str],
        *,
        name: str,
        kind: str = "train",
        run_dir: str | Path | None = None,
        env: dict[str, str] | None = None,
    ) -> Job:
        """Start ``command`` as a detached process writing ``log.txt`` in its run folder.

        ``{run_dir}`` inside the command is replaced by the run folder. The process gets its own session,
        so it outlives the app that started it.
        """
        job_id = time.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]
        rdir = Path(run_dir) if run_dir else self.runs_dir / job_id
        rdir.mkdir(parents=True, exist_ok=True)
        cmd = [str(c).replace("{run_dir}", str(rdir)) for c in command]
        if cmd and cmd[0] == "python":
            cmd[0] = sys.executable
        wrapped = [sys.executable, "-m", "core.jobs.runner", str(rdir), "--", *cmd]
        (rdir / "exit.json").unlink(missing_ok=True)
        log = open(rdir / "log.txt", "ab")  # noqa: SIM115 - handed to the child process
        try:
            if not Path(cmd[0]).is_file() and shutil.which(cmd[0]) is None:
                raise FileNotFoundError(cmd[0])
            proc = subprocess.Popen(
                wrapped,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=str(Path(__file__).resolve().parents[2]),
                env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
                start_new_session=True,
            )
        except OSError as e:
            raise JobError(
                f"could not start {cmd[0]!r}: {e}; check the command and that the virtualenv exists"
            ) from e
        finally:
            log.close()
        with self._connect() as con:
            con.execute(
                "INSERT INTO jobs (id, name, kind, command, run_dir, pid, created) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (job_id, name, kind, json.dumps(cmd), str(rdir), proc.pid, time.time()),
            )
        return self.get(job_id)

    def _to_job(self, row: sqlite3.Row) -> Job:
        run_dir = Path(row["run_dir"])
        progress = _read_progress(run_dir)
        exit_info = _read_json(run_dir / "exit.json")
        alive = _pid_alive(row["pid"])
        try:
            stale = (run_dir / "progress.json").stat().st_mtime < row["created"] - 1.0
        except OSError:
            stale = True
        # A resumed job shares its run folder with the earlier run: ignore that run's final words.
        own_status = None if stale else progress.get("status")
        status = row["final_status"] or own_status or "queued"
        error = None if stale else progress.get("error")
        if exit_info and row["final_status"] is None:
            # The wrapper's record of the exit code wins over a progress file that may lag behind.
            status = exit_info.get("status", status)
        if exit_info and exit_info.get("returncode") and not error:
            error = f"exited with code {exit_info.get('returncode')}; see the log"
        if status not in FINAL_STATES and not alive:
            # The process is gone without a final word: crashed or killed.
            status = "failed"
            error = error or "the process ended without reporting success (killed or crashed); see the log"
        elif status in FINAL_STATES and row["final_status"] is None:
            with self._connect() as con:
                con.execute("UPDATE jobs SET final_status = ? WHERE id = ?", (status, row["id"]))
        elif status == "queued" and alive:
            status = "running"
        if status == "failed" and not error:
            error = "failed; see the log"
        return Job(
            id=row["id"],
            name=row["name"],
            kind=row["kind"],
            command=json.loads(row["command"]),
            run_dir=run_dir,
            pid=row["pid"],
            created=row["created"],
            status=status,
            progress=progress,
            error=error,
        )

    def get(self, job_id: str) -> Job:
        with self._connect() as con:
            row = con.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            raise JobError(f"no job {job_id!r} in {self.db_path}")
        return self._to_job(row)

    def list(self, limit: int = 50) -> list[Job]:
        """Newest first."""
        with self._connect() as con:
            rows = con.execute("SELECT * FROM jobs ORDER BY created DESC LIMIT ?", (limit,)).fetchall()
        return [self._to_job(r) for r in rows]

    def cancel(self, job_id: str) -> Job:
        """Ask a running job to stop: a ``cancel`` file it polls, then SIGTERM to its process group."""
        job = self.get(job_id)
        if job.status in FINAL_STATES:
            return job
        (job.run_dir / "cancel").write_text("cancelled from the workbench\n")
        if job.pid and _pid_alive(job.pid):
            try:
                os.killpg(job.pid, signal.SIGTERM)
            except (ProcessLookupError, PermissionError):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(job.pid, signal.SIGTERM)
        with self._connect() as con:
            con.execute("UPDATE jobs SET final_status = 'cancelled' WHERE id = ?", (job_id,))
        return self.get(job_id)

    def resume(self, job_id: str, resume_flag: str = "--resume") -> Job:
        """Start the same command again in the same run folder with ``resume_flag`` added."""
        job = self.get(job_id)
        if job.status == "running":
            raise JobError(f"job {job_id} is still running; cancel it before resuming")
        cmd = list(job.command)
        if resume_flag and resume_flag not in cmd:
            cmd.append(resume_flag)
        (job.run_dir / "cancel").unlink(missing_ok=True)
        return self.launch(cmd, name=job.name, kind=job.kind, run_dir=job.run_dir)
