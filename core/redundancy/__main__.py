"""Command line: ``python -m core.redundancy study --data DIR --out OUT/`` and ``... studio --out DIR``.

The study writes ``OUT/progress.json`` (done / total / status, read by the workbench's job list),
``OUT/metrics.jsonl`` (one row per trained model), then ``OUT/report.md``, ``results.json`` and plots.
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

__all__ = ["main"]


def _write_progress(out: Path, data: dict[str, Any]) -> None:
    tmp = out / "progress.json.tmp"
    tmp.write_text(json.dumps(data), encoding="utf-8")
    os.replace(tmp, out / "progress.json")


def _parser() -> argparse.ArgumentParser:
    from core.redundancy.study import StudyConfig

    d = StudyConfig()
    p = argparse.ArgumentParser(prog="python -m core.redundancy", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("study", help="run tiling, masks, estimate, student and distillation; write report.md")
    s.add_argument("--data", required=True, help="ImageFolder-style folder: one sub-folder per class")
    s.add_argument("--out", required=True, help="output folder for report.md, results.json, plots")
    s.add_argument("--backbone", default=d.backbone, help="vgg_tiny | vgg_small | vgg11_bn | vgg16_bn")
    for name in ("size", "folds", "repeats", "epochs", "batch_size", "seed", "latency_repeats"):
        s.add_argument(f"--{name.replace('_', '-')}", type=int, default=getattr(d, name))
    for name in ("lr", "gamma", "temperature", "alpha"):
        s.add_argument(f"--{name}", type=float, default=getattr(d, name))
    s.add_argument("--max-per-class", type=int, default=None, help="use at most N images per class")
    s.add_argument("--max-batches-per-epoch", type=int, default=None, help="cut epochs short (smoke runs)")
    s.add_argument("--device", default=d.device, help="auto | cpu | cuda")
    s.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    s.add_argument("--resume", action="store_true", help="accepted for the job registry; a study restarts")
    rp = sub.add_parser("report", help="re-render OUT/report.md from OUT/results.json")
    rp.add_argument("--out", required=True, help="a study's output folder")
    rp.add_argument("--data", default=None, help="data folder named in the report (default: from results)")
    st = sub.add_parser("studio", help="render head-type crops with the photo studio into an ImageFolder")
    st.add_argument("--out", required=True)
    st.add_argument("--n-per-class", type=int, default=60)
    st.add_argument("--classes", nargs="*", default=None)
    return p


def _study(args: argparse.Namespace) -> int:
    import torch

    from core.redundancy.data import load_image_folder
    from core.redundancy.report import write_report
    from core.redundancy.runner import run_study
    from core.redundancy.study import StudyConfig

    if args.threads:
        torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    _write_progress(out, {"done": 0, "total": 0, "status": "running", "message": "loading data"})
    try:
        config = StudyConfig(
            backbone=args.backbone, size=args.size, folds=args.folds, repeats=args.repeats, epochs=args.epochs,
            batch_size=args.batch_size, lr=args.lr, gamma=args.gamma, temperature=args.temperature,
            alpha=args.alpha, device=args.device, seed=args.seed, max_per_class=args.max_per_class,
            max_batches_per_epoch=args.max_batches_per_epoch, latency_repeats=args.latency_repeats,
        )  # fmt: skip
        data = load_image_folder(
            args.data,
            size=config.size,
            folds=config.folds,
            max_per_class=config.max_per_class,
            seed=config.seed,
        )
        metrics = open(out / "metrics.jsonl", "w", encoding="utf-8")  # noqa: SIM115 - closed below
        t0 = time.time()

        def progress(done: int, total: int, what: str) -> None:
            print(f"[{done}/{total}] {what}", flush=True)
            err = float(what.rsplit("error ", 1)[-1]) if "error " in what else None
            metrics.write(json.dumps({"step": done, "error": err, "seconds": time.time() - t0}) + "\n")
            metrics.flush()
            _write_progress(out, {"done": done, "total": total, "status": "running", "message": what})

        try:
            result = run_study(data, config, progress)
        finally:
            metrics.close()
        report = write_report(result, out, str(args.data))
    except FvwError as e:
        _write_progress(out, {"status": "failed", "error": str(e)})
        print(f"error: {e}", file=sys.stderr)
        return 2
    est = result.estimate.redundancy if result.estimate else float("nan")
    _write_progress(out, {"done": 1, "total": 1, "status": "done", "message": f"redundancy {est:g}"})
    print(f"redundancy estimate {est:g}; report: {report}")
    return 0


def _rerender(out: Path, data: str | None) -> int:
    from core.redundancy.report import write_report
    from core.redundancy.runner import StudyResult

    try:
        raw = json.loads((out / "results.json").read_text(encoding="utf-8"))
        result = StudyResult.from_dict(raw)
    except (OSError, ValueError, TypeError) as e:
        print(
            f"error: cannot read {out / 'results.json'} ({e}); run a study into this folder first",
            file=sys.stderr,
        )
        return 2
    print(f"wrote {write_report(result, out, data or raw.get('data_dir', '?'))}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "study":
        return _study(args)
    if args.command == "report":
        return _rerender(Path(args.out), args.data)
    from core.redundancy.data import make_studio_folder

    try:
        path = make_studio_folder(args.out, args.n_per_class, tuple(args.classes) if args.classes else None)
    except FvwError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
