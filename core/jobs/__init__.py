"""Background jobs launched from the workbench: the same CLI commands as the terminal."""

from __future__ import annotations

from core.jobs.registry import FINAL_STATES, Job, JobRegistry
from core.jobs.templates import JobTemplate, Option, available_templates, get_template, register_template

__all__ = [
    "FINAL_STATES",
    "Job",
    "JobRegistry",
    "JobTemplate",
    "Option",
    "available_templates",
    "get_template",
    "register_template",
]
