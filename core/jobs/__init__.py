"""Background jobs launched from the workbench: the same CLI commands as the terminal."""

from __future__ import annotations

from core.jobs.registry import FINAL_STATES, Job, JobRegistry

__all__ = ["FINAL_STATES", "Job", "JobRegistry"]
