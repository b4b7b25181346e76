"""CLI of the structure/texture study.

Examples::

    python -m core.texture decompose photo.jpg --out dir/ --method rtv --lam 0.01 --sigma 3
    python -m core.texture sweep --out models/texture/cue_conflict_sweep
    python -m core.texture sweep --dataset studio          # -> models/texture/studio_sweep
    python -m core.texture efficiency --out models/texture/cue_conflict_efficiency
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from core.errors import FvwError

__all__ = ["main"]


def _floats(text: str) -> tuple[float, ...]:
    return tuple(float(v) for v in text.split(",") if v.strip())


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(v) for v in text.split(",") if v.strip())


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m core.texture", description="Structure/texture study")
    sub = p.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("decompose", help="write structure.png and texture.png of a photo")
    d.add_argument("photo")
    d.add_argument("--out", required=True)
    d.add_argument("--method", default="rtv", help="rtv | l0 | rolling | bilateral_texture")
    d.add_argument("--device", default="auto")
    d.add_argument("--lam", type=float, help="rtv: lambda (0.01-0.03); l0: lambda")
    d.add_argument("--sigma", type=float, help="rtv: window sigma; rolling: sigma_space")
    d.add_argument("--iterations", type=int, help="rtv / rolling / bilateral_texture iterations")
    d.add_argument(
        "--max-side", type=int, default=1024, help="downscale the photo so its longest side <= this"
    )
    for name, cls in (("sweep", "SweepConfig"), ("efficiency", "EfficiencyConfig")):
        s = sub.add_parser(name, help=f"run the {name} on the cue-conflict set")
        s.add_argument("--dataset", default=None, help="cue-conflict (default) | studio")
        s.add_argument(
            "--n-per-class", dest="n_per_class", type=int, default=None, help="studio photos per head type"
        )
        s.add_argument("--data", default=None)
        s.add_argument("--out", default=None)
        s.add_argument("--size", type=int, default=None)
        s.add_argument("--epochs", type=int, default=None)
        s.add_argument("--seeds", type=_ints, default=None, help="comma-separated, e.g. 0,1,2")
        s.add_argument("--device", default=None)
        s.add_argument("--threads", type=int, default=None)
        if name == "sweep":
            s.add_argument("--ks", type=_floats, default=None, help="comma-separated, e.g. 0,0.5,1")
            s.add_argument("--no-layer-models", action="store_true")
        else:
            s.add_argument("--k", type=float, default=None)
            s.add_argument("--fraction", type=float, default=None)
        s.set_defaults(config_cls=cls)
    return p


def _decompose(a: argparse.Namespace) -> None:
    from core.imageio import read_image, write_image
    from core.texture.decompose import decompose, texture_to_uint8

    params: dict[str, object] = {}
    if a.method == "rtv":
        params = {"device": a.device}
        for key in ("lam", "sigma", "iterations"):
            if getattr(a, key) is not None:
                params[key] = getattr(a, key)
    elif a.method == "l0" and a.lam is not None:
        params = {"lam": a.lam}
    elif a.method == "rolling":
        params = {
            k2: v for k2, v in (("sigma_space", a.sigma), ("iterations", a.iterations)) if v is not None
        }
    elif a.method == "bilateral_texture" and a.iterations is not None:
        params = {"iterations": a.iterations}
    img = read_image(a.photo, downscale_to=a.max_side)
    dec = decompose(img, a.method, **params)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    s = (dec.structure.clip(0, 1) * 255 + 0.5).astype("uint8")
    write_image(out / "structure.png", s)
    write_image(out / "texture.png", texture_to_uint8(dec.texture))
    print(f"wrote {out / 'structure.png'} and {out / 'texture.png'} ({a.method}, {params})")


def _study(a: argparse.Namespace, argv: list[str]) -> None:
    from core.texture import sweep as sw

    cls = getattr(sw, a.config_cls)
    keys = (
        "dataset",
        "n_per_class",
        "data",
        "out",
        "size",
        "epochs",
        "seeds",
        "device",
        "threads",
        "ks",
        "k",
        "fraction",
    )
    values = {k: getattr(a, k) for k in keys if getattr(a, k, None) is not None}
    if values.get("dataset") == "studio" and "out" not in values:
        values["out"] = f"models/texture/studio_{a.cmd}"
    if getattr(a, "no_layer_models", False):
        values["layer_models"] = False
    cfg = cls(**values)
    command = "python -m core.texture " + shlex.join(argv)
    run = sw.run_sweep if a.cmd == "sweep" else sw.run_efficiency
    result = run(cfg, command=command)
    print((Path(cfg.out) / "results.md").read_text())
    print(f"{result['seconds']} s; results in {cfg.out}/results.json")


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status (2 with a message on a typed error)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    a = _parser().parse_args(argv)
    try:
        if a.cmd == "decompose":
            _decompose(a)
        else:
            _study(a, argv)
    except FvwError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
