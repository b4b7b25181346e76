"""The workbench job that runs a k sweep (the same command as the terminal)."""

from __future__ import annotations

import sys

from core.jobs import JobTemplate, Option, register_template

__all__ = ["SWEEP_TEMPLATE"]


def _build(v: dict[str, object]) -> list[str]:
    return [
        sys.executable, "-m", "core.texture", "sweep",
        "--dataset", str(v["dataset"]),
        "--out", "{run_dir}",
        "--ks", str(v["ks"]),
        "--seeds", str(v["seeds"]),
        "--epochs", str(int(v["epochs"])),  # type: ignore[call-overload]
        "--size", str(int(v["size"])),  # type: ignore[call-overload]
    ]  # fmt: skip


SWEEP_TEMPLATE = register_template(
    JobTemplate(
        name="texture_sweep",
        kind="train",
        description="k sweep: tiny CNNs trained on cue-conflict images with targets k*shape + (1-k)*texture.",
        module="core.texture",
        options=(
            Option(
                "dataset",
                "studio",
                "studio (rendered screws by head type) or cue-conflict (Geirhos)",
                ("studio", "cue-conflict"),
            ),
            Option("ks", "0,0.2,0.4,0.6,0.8,1", "comma-separated k values"),
            Option("seeds", "0,1", "comma-separated seeds"),
            Option("epochs", 20, "epochs per model"),
            Option("size", 48, "image side in pixels"),
        ),
        build=_build,
    )
)
