"""The jobs the workbench can launch: each a CLI command a user could type in a terminal.

A template turns a few options into a command line. Register new ones with :func:`register_template`;
the Train page lists them in registration order. Only templates whose module is importable are offered.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from core.errors import ConfigError

__all__ = ["Option", "JobTemplate", "register_template", "get_template", "available_templates"]


@dataclass(frozen=True)
class Option:
    """One user-settable option of a job template."""

    name: str
    default: Any
    help: str = ""
    choices: tuple[Any, ...] = ()


@dataclass(frozen=True)
class JobTemplate:
    """A named command builder. ``module`` must be importable for the template to be offered."""

    name: str
    kind: str
    description: str
    module: str
    build: Callable[[dict[str, Any]], list[str]]
    options: tuple[Option, ...] = field(default_factory=tuple)

    def command(self, values: dict[str, Any] | None = None) -> list[str]:
        """The command line for ``values`` merged over the defaults; unknown options are refused."""
        values = dict(values or {})
        valid = {o.name for o in self.options}
        unknown = set(values) - valid
        if unknown:
            raise ConfigError(
                f"unknown option(s) {sorted(unknown)} for job {self.name!r}; valid: {sorted(valid)}"
            )
        merged = {o.name: o.default for o in self.options} | values
        for o in self.options:
            if o.choices and merged[o.name] not in o.choices:
                raise ConfigError(
                    f"option {o.name!r} must be one of {list(o.choices)}, got {merged[o.name]!r}"
                )
        return self.build(merged)


_TEMPLATES: dict[str, JobTemplate] = {}


def _cli(module: str, *args: str, **flags: Any) -> list[str]:
    """``python -m module args... --flag value ...`` (underscores in flag names become dashes)."""
    cmd = ["python", "-m", module, *args]
    for k, v in flags.items():
        cmd += [f"--{k.replace('_', '-')}", str(v)]
    return cmd


def register_template(template: JobTemplate) -> JobTemplate:
    _TEMPLATES[template.name] = template
    return template


def get_template(name: str) -> JobTemplate:
    _load_plugins()
    try:
        return _TEMPLATES[name]
    except KeyError:
        raise ConfigError(f"unknown job {name!r}; valid jobs: {', '.join(_TEMPLATES)}") from None


# Modules that register their own templates when imported (the studies keep their job next to their CLI).
_PLUGINS = ("core.texture.jobs",)


def _load_plugins() -> None:
    for mod in _PLUGINS:
        if importlib.util.find_spec(mod) is not None:
            importlib.import_module(mod)


def available_templates() -> list[JobTemplate]:
    """Templates whose implementing module exists in this checkout."""
    _load_plugins()
    return [t for t in _TEMPLATES.values() if importlib.util.find_spec(t.module) is not None]


register_template(
    JobTemplate(
        name="toy_shapes",
        kind="train",
        description="Tiny CNN on procedurally drawn shapes: a seconds-long job to check the machinery.",
        module="core.train",
        options=(Option("epochs", 3, "training epochs"), Option("seed", 0, "random seed")),
        build=lambda v: _train_cmd("toy_shapes", {"epochs": int(v["epochs"]), "seed": int(v["seed"])}),
    )
)
register_template(
    JobTemplate(
        name="studio_photos",
        kind="data",
        description="Render labelled screw photos with the photo studio into a dataset folder.",
        module="core.synth",
        options=(
            Option("n", 200, "number of photos"),
            Option("seed", 0, "base seed"),
            Option(
                "mode",
                "search",
                "search = screw + coin; train = single objects; short = short screws",
                ("search", "train", "short"),
            ),
            Option("out", "annotations/synthetic-workbench", "output dataset folder"),
        ),  # fmt: skip
        build=lambda v: _cli("core.synth", n=int(v["n"]), seed=int(v["seed"]), mode=v["mode"], out=v["out"]),
    )
)


def _train_cmd(task: str, sets: dict[str, Any]) -> list[str]:
    cmd = ["python", "-m", "core.train", task, "--out", "{run_dir}"]
    for k, v in sets.items():
        cmd += ["--set", f"{k}={v}"]
    return cmd


register_template(
    JobTemplate(
        name="segmenter",
        kind="train",
        description="U-Net screw/coin segmenter (Tversky 0.3/0.7 or Dice) on studio photos + labelme folders.",
        module="core.segment.train",
        options=(
            Option("epochs", 8, "training epochs"),
            Option("n_train", 800, "training photos"),
            Option("size", 256, "training image size (px)"),
            Option("loss", "tversky", "loss", ("tversky", "dice")),
            Option("seed", 0, "random seed"),
        ),
        build=lambda v: _train_cmd(
            "segmenter",
            {
                "epochs": int(v["epochs"]),
                "n_train": int(v["n_train"]),
                "size": int(v["size"]),
                "loss": v["loss"],
                "seed": int(v["seed"]),
            },
        ),  # fmt: skip
    )
)
register_template(
    JobTemplate(
        name="rotationnet",
        kind="train",
        description="RotationNet: angle bins from long screws' computed angles (used for short screws).",
        module="core.pose.train_rotationnet",
        options=(Option("photos", 300, "studio photos rendered"), Option("steps", 1500, "training steps")),
        build=lambda v: _cli(
            "core.pose.train_rotationnet",
            out="{run_dir}/rotationnet.safetensors",
            photos=int(v["photos"]),
            steps=int(v["steps"]),
        ),
    )
)
register_template(
    JobTemplate(
        name="blob_verifier",
        kind="train",
        description="Blob verifier: is each screw blob of the shipped segmenter a screw (drops clutter); "
        "the blobs outlined by GrabCut and the shipped EdgeNet, as the locator scores them.",
        module="core.segment.train_verifier",
        options=(
            Option("photos", 300, "search photos the blobs come from"),
            Option("short", 100, "short-screw photos"),
            Option("epochs", 10, "training epochs"),
        ),
        build=lambda v: _cli(
            "core.segment.train_verifier",
            "run",
            out_dir="{run_dir}",
            photos=int(v["photos"]),
            short=int(v["short"]),
            epochs=int(v["epochs"]),
        ),
    )
)
register_template(
    JobTemplate(
        name="coin_edgenet",
        kind="train",
        description="CoinEdgeNet: where the coin's edge lies across its outline (the coin's scale and mask), "
        "on studio photos at 512x384 and 1280x960.",
        module="core.measure.train_coin_edgenet",
        options=(
            Option("photos", 4000, "studio photos rendered (~1 min per 1,000 on 2 cores)"),
            Option("epochs", 30, "training epochs"),
        ),
        build=lambda v: _cli(
            "core.measure.train_coin_edgenet",
            out="{run_dir}/coin_edgenet.safetensors",
            run_dir="{run_dir}",
            n=int(v["photos"]),
            epochs=int(v["epochs"]),
        ),
    )
)
register_template(
    JobTemplate(
        name="headend",
        kind="train",
        description="HeadEndNet: which end of a located screw is its head, read from the photo along its axis "
        "(the shipped locator's masks of studio photos).",
        module="core.pose.train_headend",
        options=(
            Option(
                "photos", 2500, "search photos at 512x384 (~1 min per 400 on 2 cores; + short and 1280 px)"
            ),
            Option("steps", 3000, "training steps of 64 strips"),
        ),
        build=lambda v: _cli(
            "core.pose.train_headend",
            out="{run_dir}/headend.safetensors",
            run_dir="{run_dir}",
            n=int(v["photos"]),
            steps=int(v["steps"]),
        ),
    )
)
register_template(
    JobTemplate(
        name="attribute_classifier",
        kind="train",
        description="Head / tip / thread classifier (timm backbone) or finish (ColorNet) on studio crops.",
        module="core.attributes.train",
        options=(
            Option("attribute", "head", "which attribute", ("head", "tip", "thread", "finish")),
            Option(
                "model",
                "timm",
                "timm backbone, ColorNet or its plain baseline",
                ("timm", "colornet", "plain"),
            ),
            Option("backbone", "mobilenetv3_small_100", "timm backbone (model=timm)"),
            Option("epochs", 10, "training epochs"),
            Option(
                "train", "runs/attributes/crops-train.npz", "training crops (python -m core.attributes crops)"
            ),
            Option("val", "runs/attributes/crops-val.npz", "validation crops"),
        ),
        build=lambda v: _train_cmd(
            "attributes",
            {
                "attribute": v["attribute"],
                "model": v["model"],
                "backbone": v["backbone"],
                "epochs": int(v["epochs"]),
                "train": v["train"],
                "val": v["val"],
            },
        ),  # fmt: skip
    )
)


def _redundancy_cmd(v: dict[str, Any]) -> list[str]:
    from core.redundancy.command import study_command

    return study_command(
        str(v["data"]), backbone=str(v["backbone"]), size=int(v["size"]), folds=int(v["folds"]),
        repeats=int(v["repeats"]), epochs=int(v["epochs"]),
    )  # fmt: skip


register_template(
    JobTemplate(
        name="redundancy_study",
        kind="study",
        description="Three-stage redundancy study (tiling, masked first conv, student + distillation) on a folder.",
        module="core.redundancy",
        options=(
            Option("data", "runs/redundancy/studio_heads", "ImageFolder-style folder (class per subfolder)"),
            Option("backbone", "vgg_small", "teacher backbone", ("vgg_small", "vgg16_bn")),
            Option("size", 48, "input side in pixels"),
            Option("folds", 3, "k-fold splits"),
            Option("repeats", 1, "repeats per fold"),
            Option("epochs", 12, "epochs per model"),
        ),
        build=_redundancy_cmd,
    )
)
