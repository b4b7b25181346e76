"""Command lines of the study's CLI, for the workbench's job launcher (the same as a terminal user types)."""

from __future__ import annotations

from core.errors import ConfigError
from core.redundancy.models import BACKBONES

__all__ = ["study_command", "studio_command"]


def study_command(
    data: str,
    out: str = "{run_dir}",
    *,
    backbone: str = "vgg_small",
    size: int = 48,
    folds: int = 3,
    repeats: int = 1,
    epochs: int = 12,
    device: str = "auto",
    threads: int | None = 1,
) -> list[str]:
    """``python -m core.redundancy study ...``; ``{run_dir}`` is filled in by the job registry."""
    if backbone not in BACKBONES:
        raise ConfigError(f"unknown backbone {backbone!r}; valid: {', '.join(BACKBONES)}", field="backbone")
    if device not in ("auto", "cpu", "cuda"):
        raise ConfigError(f"unknown device {device!r}; valid: auto, cpu, cuda", field="device")
    cmd = ["python", "-m", "core.redundancy", "study", "--data", str(data), "--out", str(out)]
    cmd += ["--backbone", backbone, "--size", str(int(size)), "--folds", str(int(folds))]
    cmd += ["--repeats", str(int(repeats)), "--epochs", str(int(epochs)), "--device", device]
    if threads:
        cmd += ["--threads", str(int(threads))]
    return cmd


def studio_command(out: str, n_per_class: int = 80) -> list[str]:
    """``python -m core.redundancy studio ...``: render head-type crops into an ImageFolder."""
    return [
        "python",
        "-m",
        "core.redundancy",
        "studio",
        "--out",
        str(out),
        "--n-per-class",
        str(int(n_per_class)),
    ]
